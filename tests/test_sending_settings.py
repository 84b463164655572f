"""OUTBOUND_RATE and PAID_BROADCAST: validated at start-up, and the rate the limiter keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.telegram.delivery import TelegramChannel
from bot.config import ConfigError, load_settings
from bot.sending.limits import limiter_for

VARIABLES = ("OUTBOUND_RATE", "PAID_BROADCAST")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """None of these variables from the caller's environment, and no ``.env`` file."""
    monkeypatch.chdir(tmp_path)
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("variables", "rate"),
    [
        ({}, 25),
        ({"OUTBOUND_RATE": ""}, 25),
        ({"OUTBOUND_RATE": "10"}, 10),
        ({"OUTBOUND_RATE": "30"}, 30),
        ({"PAID_BROADCAST": "true"}, 970),
        ({"PAID_BROADCAST": "true", "OUTBOUND_RATE": "1000"}, 1000),
        ({"PAID_BROADCAST": "true", "OUTBOUND_RATE": "500"}, 500),
        ({"PAID_BROADCAST": "false"}, 25),
    ],
)
def test_the_sending_rate(
    environment: pytest.MonkeyPatch, variables: dict[str, str], rate: int
) -> None:
    for name, value in variables.items():
        environment.setenv(name, value)
    settings = load_settings()
    assert settings.sending_rate == rate
    limiter = limiter_for(TelegramChannel.limits, settings.sending_rate)
    assert (limiter.per_second, limiter.per_chat) == (rate, 1.0)  # one a second per chat


@pytest.mark.parametrize(
    ("variables", "complaint"),
    [
        ({"OUTBOUND_RATE": "31"}, "OUTBOUND_RATE must be at most 30 messages a second"),
        ({"OUTBOUND_RATE": "0"}, "OUTBOUND_RATE: Input should be greater than or equal to 1"),
        ({"OUTBOUND_RATE": "fast"}, "OUTBOUND_RATE: Input should be a valid integer"),
        ({"PAID_BROADCAST": "true", "OUTBOUND_RATE": "1001"}, "at most 1000"),
        ({"PAID_BROADCAST": "maybe"}, "PAID_BROADCAST: Input should be a valid boolean"),
    ],
)
def test_a_bad_rate_is_explained(
    environment: pytest.MonkeyPatch, variables: dict[str, str], complaint: str
) -> None:
    for name, value in variables.items():
        environment.setenv(name, value)
    with pytest.raises(ConfigError, match="invalid configuration") as error:
        load_settings()
    assert complaint in str(error.value)
