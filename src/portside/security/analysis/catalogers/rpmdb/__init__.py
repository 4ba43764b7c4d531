"""The rpm database formats, each read from the file's bytes into header blobs.

``sqlite`` (rpm >= 4.16: RHEL 9, Fedora >= 33), ``bdb`` (Berkeley DB hash: RHEL <= 8,
CentOS 7, Amazon Linux 2), ``ndb`` (rpm's own format: SUSE); :mod:`.header` decodes a blob.
"""
