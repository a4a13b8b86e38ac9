"""TLS files in the configuration: taken from the config file's folder, checked when read."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import parse_settings
from gateway.errors import ConfigError
from tests.scaffold import cli, config, key, v2_service
from tests.tls import make_ca_and_server

KEY = key("tls-config")


def _write(folder: Path, section: str, certfile: str, keyfile: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"certfile": certfile, "keyfile": keyfile}
    text = (
        config(v2_service("Web", KEY), server=files)
        if section == "server"
        else config(v2_service("Web", KEY), smtp={"listen": "127.0.0.1:0", **files})
    )
    path = folder / "gw.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("section", ["server", "smtp"])
def test_relative_tls_files_are_taken_from_the_config_folder(
    tmp_path: Path, section: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "etc"
    (conf / "tls").mkdir(parents=True)
    make_ca_and_server(conf / "tls")
    path = _write(conf, section, "tls/server.pem", "tls/server.key")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter
    settings = parse_settings(path.read_text(), source=path)
    tls = settings.server if section == "server" else settings.smtp
    assert tls is not None
    assert tls.certfile == conf / "tls" / "server.pem"
    assert tls.keyfile == conf / "tls" / "server.key"


@pytest.mark.parametrize("section", ["server", "smtp"])
def test_a_missing_tls_file_is_a_configuration_error_with_its_line(
    tmp_path: Path, section: str
) -> None:
    path = _write(tmp_path, section, "nowhere.pem", "nowhere.key")
    with pytest.raises(ConfigError) as caught:
        parse_settings(path.read_text(), source=path)
    assert caught.value.key == f"{section}.certfile"
    assert caught.value.line is not None
    assert "cannot load the certificate" in str(caught.value)
    assert str(tmp_path / "nowhere.pem") in str(caught.value)


def test_a_key_that_does_not_match_its_certificate_is_refused(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    _, cert, _ = make_ca_and_server(tmp_path / "one")
    _, _, other_key = make_ca_and_server(tmp_path / "two")
    path = _write(tmp_path, "server", str(cert), str(other_key))
    with pytest.raises(ConfigError, match="cannot load the certificate"):
        parse_settings(path.read_text(), source=path)


@pytest.mark.slow  # the CLI in a subprocess
def test_check_config_reports_a_missing_certificate_without_a_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "server", "missing.pem", "missing.key")
    result = cli("check-config", str(path))
    assert result.returncode != 0
    assert "server.certfile" in result.stderr
    assert "cannot load the certificate" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
