import json
from pathlib import Path

import pytest

from portside.errors import ConfigError
from portside.settings import SyncStrategy, load_settings

ISSUE_EXAMPLE = """\
database_url: sqlite:////var/lib/portside/portside.db   # or postgresql://...
registry:
  url: http://127.0.0.1:5000
  username: ""        # basic auth, or the account for the registry's token realm
  password: ""
notifications:
  tokens: ["s3cret"]  # the registry sends "Authorization: Bearer s3cret"
server:
  host: 127.0.0.1
  port: 8080
background:
  events: {enabled: true}
  sync: {enabled: true, strategy: update-delete, interval: 300}
  scan: {enabled: true}
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("PORTSIDE_"):
            monkeypatch.delenv(key)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "portside.yml"
    path.write_text(text)
    return path


def test_the_documented_file_works_as_written(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ISSUE_EXAMPLE))
    assert settings.database_url == "sqlite:////var/lib/portside/portside.db"
    assert settings.registry.url == "http://127.0.0.1:5000"
    assert [t.get_secret_value() for t in settings.notifications.tokens] == ["s3cret"]
    assert settings.server.port == 8080
    assert settings.background.sync.strategy is SyncStrategy.UPDATE_DELETE
    assert settings.background.sync.interval == 300


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///portside.db"
    assert settings.registry.url is None
    assert settings.notifications.require_token is True


def test_environment_overrides_nested_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTSIDE_BACKGROUND__SYNC__STRATEGY", "update")
    monkeypatch.setenv("PORTSIDE_REGISTRY__URL", "https://registry.example:5000/")
    settings = load_settings(write(tmp_path, ISSUE_EXAMPLE))
    assert settings.background.sync.strategy is SyncStrategy.UPDATE
    assert settings.background.sync.interval == 300  # the file's other keys stay
    assert settings.registry.url == "https://registry.example:5000"


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTSIDE_CONFIG", str(write(tmp_path, "server: {port: 9999}\n")))
    assert load_settings().server.port == 9999


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("background: {sync: {strategy: sometimes}}", "background.sync.strategy"),
        ("server: {port: 70000}", "server.port"),
        ("registry: {url: ftp://x}", "registry.url"),
        ("registry: {urll: http://x}", "registry.urll"),
        ("database_url: mysql://x", "database_url"),
        ("background: {events: {interval: -1}}", "background.events.interval"),
    ],
)
def test_a_wrong_value_names_its_key_in_one_line(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert f": {key}: " in message


def test_a_wrong_environment_value_names_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTSIDE_BACKGROUND__SYNC__INTERVAL", "often")
    with pytest.raises(ConfigError, match="background.sync.interval"):
        load_settings()


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, "a: [unclosed"))
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(write(tmp_path, "- a list"))


@pytest.mark.parametrize("key", ["notifications.tokens", "api.admin_tokens"])
@pytest.mark.parametrize("token", ["", "   ", "\xa0", "\t", " padded", "caf\xe9"])
def test_blank_or_unusable_tokens_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, key: str, token: str
) -> None:
    """A blank token matched a blank Authorization header (`\\xa0` passed as admin)."""
    section, field = key.split(".")
    monkeypatch.setenv(f"PORTSIDE_{section.upper()}__{field.upper()}", json.dumps(["good", token]))
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert f"{key}: " in str(caught.value)
    assert "entry 1" in str(caught.value)
    if token.strip():
        assert token.strip() not in str(caught.value)  # the message never shows a token


def test_trusted_proxies_are_addresses_or_networks_and_none_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from portside.web.clients import proxy_options

    default = load_settings(None).server
    assert default.trusted_proxies == []
    # No trusted proxy: uvicorn reads no forwarded header, whatever FORWARDED_ALLOW_IPS says.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    assert proxy_options(default) == {"proxy_headers": False, "forwarded_allow_ips": []}
    monkeypatch.setenv(
        "PORTSIDE_SERVER__TRUSTED_PROXIES", '[" 10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1"]'
    )
    server = load_settings(None).server
    assert server.trusted_proxies == ["10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1"]
    assert proxy_options(server) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1"],
    }
    monkeypatch.delenv("PORTSIDE_SERVER__TRUSTED_PROXIES")
    for wrong, why in [
        (["*"], r"entry 0 \('\*'\)"),
        (["10.0.0.1", "proxy.example"], r"entry 1 \('proxy\.example'\)"),
        (["10.0.0.1/8"], "has host bits set"),
        (["10.0.0.0/33"], "entry 0"),
        ([""], "entry 0"),
    ]:
        with pytest.raises(ConfigError, match=f"server.trusted_proxies: .*{why}"):
            load_settings(None, server={"trusted_proxies": wrong})


def test_allowed_hosts_are_normalized_and_never_empty() -> None:
    settings = load_settings(None, server={"allowed_hosts": ["Portside.Example.", "[::1]"]})
    assert settings.server.allowed_hosts == ["portside.example", "[::1]"]
    assert load_settings(None).server.allowed_hosts is None
    for wrong in ([], [""]):
        with pytest.raises(ConfigError, match="server.allowed_hosts"):
            load_settings(None, server={"allowed_hosts": wrong})


def test_old_setting_names_are_still_read_with_a_deprecation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """webhook.* (the incoming notifications) and background.webhooks (the outgoing ones)
    were renamed notifications.* and background.outgoing; the old names still work."""
    old = write(
        tmp_path,
        "webhook: {tokens: [s3cret], max_body: 4096}\n"
        "background: {webhooks: {enabled: false, timeout: 3}}\n",
    )
    settings = load_settings(old)
    assert [t.get_secret_value() for t in settings.notifications.tokens] == ["s3cret"]
    assert settings.notifications.max_body == 4096
    assert settings.background.outgoing.enabled is False
    assert settings.background.outgoing.timeout == 3
    assert len(settings.deprecations) == 2
    assert "webhook.* is deprecated: use notifications.*" in settings.deprecations[0]
    assert "background.webhooks.* is deprecated" in settings.deprecations[1]
    assert load_settings(None).deprecations == []


def test_old_environment_names_are_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTSIDE_WEBHOOK__TOKENS", '["from-env"]')
    monkeypatch.setenv("PORTSIDE_WEBHOOK__REQUIRE_TOKEN", "false")
    monkeypatch.setenv("PORTSIDE_BACKGROUND__WEBHOOKS__INTERVAL", "7")
    settings = load_settings(None)
    assert [t.get_secret_value() for t in settings.notifications.tokens] == ["from-env"]
    assert settings.notifications.require_token is False
    assert settings.background.outgoing.interval == 7
    assert [n.split(" is ")[0] for n in settings.deprecations] == [
        "setting webhook.*",
        "setting background.webhooks.*",
    ]


def test_a_new_name_wins_over_its_old_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTSIDE_WEBHOOK__MAX_BODY", "4096")
    monkeypatch.setenv("PORTSIDE_NOTIFICATIONS__MAX_BODY", "8192")
    assert load_settings(None).notifications.max_body == 8192


def test_a_bad_value_under_an_old_name_names_the_new_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="notifications.max_body"):
        load_settings(write(tmp_path, "webhook: {max_body: 1}\n"))


def test_the_background_tasks_keep_their_names() -> None:
    assert list(load_settings(None).background.tasks()) == [
        "events",
        "sync",
        "scan",
        "gc",
        "webhooks",
    ]
