"""Config: the starter file, environment overrides, and errors that name the bad key."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from newsroom.config import ConfigError, load_settings

STARTER = resources.files("newsroom.data").joinpath("newsroom.example.toml").read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "newsroom.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_starter_config_is_valid_and_complete(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, STARTER))
    names = [src.name for src in s.sources]
    assert names == [
        "CoinDesk",
        "Cointelegraph",
        "Decrypt",
        "The Block",
        "Bitcoin Magazine",
        "Blockworks",
        "CryptoSlate",
        "CoinDesk Data news API",
    ]
    api = s.sources[-1]  # the coindesk-data preset: off until its key is set
    assert (api.key, api.type, api.api_key_env, api.enabled) == ("coindesk-data", "API", "COINDESK_API_KEY", False)
    assert all(src.url.startswith("https://") for src in s.sources)
    assert s.languages == ["en", "uk"] and s.pivot_language == "en" and s.extra_languages == ["uk"]
    assert s.llm.provider == "local"
    assert s.fetch.allow_private_networks is False


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, 'database_url = "sqlite:///data/n.db"\n[publish]\ncontent_dir = "out"\n'))
    assert s.database_url == f"sqlite:///{tmp_path}/data/n.db"
    assert s.publish.content_dir == tmp_path / "out"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSROOM_LLM__PROVIDER", "openai")
    monkeypatch.setenv("NEWSROOM_LLM__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("NEWSROOM_LANGUAGES", '["en", "uk", "de"]')
    s = load_settings(_write(tmp_path, STARTER))
    assert s.llm.provider == "openai" and s.llm.base_url == "http://127.0.0.1:9/v1"
    assert s.languages == ["en", "uk", "de"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[llm]\nprovider = "gpt"\n', "llm.provider"),
        ('[llm]\nprovder = "openai"\n', "llm.provder: unknown key"),
        ('languages = ["en", "xx"]\n', "unsupported language"),
        ('languages = ["uk"]\n', "pivot_language"),
        ('[[sources]]\nkey = "Bad Key"\nname = "x"\nurl = "https://x.test/rss"\n', "sources.0.key"),
        ('[[sources]]\nkey = "a"\nname = "x"\nurl = "ftp://x.test/rss"\n', "sources.0.url"),
        ('[publish]\npath_template = "../{slug}.md"\n', "publish.path_template"),
        ('[publish]\npath_template = "{lang}/{title}.md"\n', "unknown placeholder"),
        ('default_category = "SPORTS"\n', "default_category"),
        ("[llm]\nmax_string_chars = 1500\n", "llm.max_string_chars"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_write(tmp_path, text))
    assert needle in str(err.value)
    assert str(tmp_path / "newsroom.toml") in str(err.value)


def test_duplicate_source_keys(tmp_path: Path) -> None:
    src = '[[sources]]\nkey = "a"\nname = "x"\nurl = "https://x.test/rss"\n'
    with pytest.raises(ConfigError, match="repeated"):
        load_settings(_write(tmp_path, src + src))


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_write(tmp_path, "languages = [en\n"))
    with pytest.raises(ConfigError, match="newsroom init"):
        load_settings(tmp_path / "missing.toml")


def test_no_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSROOM_CONFIG", raising=False)
    s = load_settings()
    assert s.sources == [] and s.database_url == "sqlite:///newsroom.db"


def test_publish_targets_are_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text(
        '[publish]\ncovers_dir = "site/public/covers"\n'
        '[[publish.targets]]\nkind = "git"\nname = "site"\nrepo_dir = "clone"\n'
        '[[publish.targets]]\nkind = "webhook"\nname = "hook"\nurl = "https://hooks.example/build"\n'
    )
    s = load_settings(cfg)
    git, hook = s.publish.targets
    assert git.repo_dir == tmp_path / "clone" and git.branch == "main" and hook.max_retries == 4  # type: ignore[union-attr]
    assert s.publish.covers_folder() == tmp_path / "site" / "public" / "covers"
    bad = {
        '[[publish.targets]]\nkind = "ftp"\nname = "x"\n': "publish.targets.0",
        '[[publish.targets]]\nkind = "webhook"\nname = "x"\nurl = "ftp://x"\n': "http:// or https://",
        '[[publish.targets]]\nkind = "folder"\nname = "x"\ndir = "d"\ncovers_subdir = "../up"\n': "relative path",
        '[[publish.targets]]\nkind = "folder"\nname = "Bad Name"\ndir = "d"\n': "target name",
        '[[publish.targets]]\nkind = "folder"\nname = "a"\ndir = "d"\n[[publish.targets]]\nkind = "folder"\n'
        'name = "a"\ndir = "e"\n': "repeated: ['a']",
    }
    for text, message in bad.items():
        cfg.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_settings(cfg)
