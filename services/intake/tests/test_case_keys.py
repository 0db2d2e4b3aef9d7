"""Intake's key-encryption key (CASE_KEY_KEK): without a good one intake does not start,
saying what to set."""

import base64
import os
from typing import cast

import asyncpg
import pytest
from pydantic import SecretStr

from hhc_intake.app import definition
from hhc_intake.case_keys import MissingKeyEncryptionKey, key_wrapper
from hhc_intake.settings import IntakeSettings

NO_POOL = cast(asyncpg.Pool, None)
"""The key store is refused before it would use its pool."""


@pytest.mark.parametrize(
    "kek",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64 at all!", id="not base64"),
        pytest.param(base64.b64encode(os.urandom(16)).decode(), id="16 bytes"),
    ],
)
def test_intake_refuses_to_start_without_a_good_key_encryption_key(kek: str) -> None:
    service = definition(IntakeSettings(case_key_kek=SecretStr(kek)))
    assert service.case_keys is not None
    with pytest.raises(MissingKeyEncryptionKey, match="CASE_KEY_KEK"):
        service.case_keys(NO_POOL)


def test_a_case_key_is_wrapped_and_unwrapped_with_it() -> None:
    kek = base64.b64encode(os.urandom(32)).decode()
    wrapper = key_wrapper(IntakeSettings(case_key_kek=SecretStr(kek)))
    key = os.urandom(32)
    wrapped = wrapper.wrap(key)
    assert wrapped != key
    assert wrapper.unwrap(wrapped) == key
    assert wrapper.key_id == "local-1"
