"""The fields of a tar header and of a PAX extended header, decoded strictly.

Anything malformed raises :class:`~portside.security.analysis.limits.LayerRejected`: a layer is
untrusted.
"""

from __future__ import annotations

from portside.security.analysis.limits import LayerRejected, Limits


def text(raw: bytes) -> str:
    """A NUL-terminated header field as text (bytes that are not UTF-8 kept as surrogates)."""
    return raw.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def number(field: bytes, what: str) -> int:
    """A numeric header field: octal text, or GNU base-256 for large values."""
    if field[:1] and field[0] & 0x80:  # GNU base-256
        if field[0] == 0xFF:
            raise LayerRejected(f"corrupt tar header: negative {what}")
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    digits = field.split(b"\x00", 1)[0].strip(b" \x00")
    if not digits:
        return 0
    if digits.strip(b"01234567"):
        raise LayerRejected(f"corrupt tar header: {what} is not an octal number")
    return int(digits, 8)


def decimal(value: str, what: str) -> int:
    """A decimal PAX value such as ``size``."""
    if not value.isascii() or not value.isdigit():
        raise LayerRejected(f"corrupt tar: PAX {what} is not a number")
    return int(value)


def checksum_ok(block: bytes) -> bool:
    """The header checksum, computed unsigned (POSIX) or signed (old Sun and GNU tars)."""
    field = block[148:156]
    stored = number(field, "checksum")
    unsigned = sum(block) - sum(field) + 8 * 0x20  # the field itself counts as 8 spaces
    if stored == unsigned:
        return True
    signed = unsigned - 256 * sum(1 for byte in block[:148] + block[156:] if byte & 0x80)
    return stored == signed


def parse_pax(data: bytes, limits: Limits) -> dict[str, str]:
    """The records ``"<length> <key>=<value>\\n"`` of a PAX extended header."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # NUL padding after the last record
            break
        space = data.find(b" ", pos, pos + 20)
        digits = data[pos:space] if space > pos else b""
        length = int(digits) if digits.isdigit() else 0
        record = data[space + 1 : pos + length]
        if length <= 0 or pos + length > len(data) or not record.endswith(b"\n"):
            raise LayerRejected("corrupt tar: malformed PAX record")
        key, sep, value = record[:-1].partition(b"=")
        if not sep:
            raise LayerRejected("corrupt tar: malformed PAX record")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    for name in ("path", "linkpath"):
        if len(records.get(name, "")) > limits.max_path_length:
            raise LayerRejected(
                f"a PAX {name} longer than max_path_length ({limits.max_path_length})",
                limit="max_path_length",
                path=records[name][:200],
            )
    return records


def ustar_name(block: bytes) -> str:
    """The entry name of a header: ``name``, with the POSIX ustar ``prefix`` before it."""
    name = text(block[0:100])
    if block[257:263] == b"ustar\x00":  # GNU tars use the prefix bytes for other things
        prefix = text(block[345:500])
        if prefix:
            return f"{prefix}/{name}"
    return name
