"""What a survivor may see of their own report: its status, for its reference and the
status code they were given once when they reported (policy 3.2.3).

A code is 80 random bits in Crockford's base32, four groups of four characters to read
out on the phone; only its SHA-256 is stored. A lookup needs both reference and code,
and every failure (unknown reference, wrong code, a reporter who gets no feedback) is the
same answer: a reference alone reveals nothing.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

# Crockford's base32: no I, L, O or U, which are misread or misheard.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # x 5 bits = 80 bits
GROUP = 4
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
_SEPARATORS = re.compile(r"[\s\-]+")
# Compared against when the reference is unknown, so that both failures take as long.
_NO_CODE = hashlib.sha256(b"no code").digest()


def new_status_code() -> str:
    """A fresh code as it is shown: ``7K3M-9QXH-2WFD-RT8B``."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(code[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def normalised(code: str) -> str | None:
    """A code as typed or heard (any case, spaces or dashes, O for 0, I or L for 1) in its
    plain form, or None when it cannot be one."""
    plain = _SEPARATORS.sub("", code).upper().translate(_READ_AS)
    return plain if _CODE.match(plain) else None


def code_hash(code: str) -> bytes:
    """What is stored: the SHA-256 of the plain form. 80 random bits need no salt or slow
    hash to stay unguessable from it."""
    plain = normalised(code)
    if plain is None:
        raise ValueError("not a status code")
    return hashlib.sha256(plain.encode()).digest()


async def reissue_status_code(connection: asyncpg.Connection, case_id: UUID) -> str | None:
    """A new code for a case whose reporter gets feedback, replacing the old one (the same
    form sent twice shows the code again, and only a hash was kept)."""
    code = new_status_code()
    replaced = await connection.fetchval(
        """UPDATE cases SET status_code_hash = $2
           WHERE case_id = $1 AND reporter_receives_feedback RETURNING true""",
        case_id,
        code_hash(code),
    )
    return code if replaced else None


@dataclass(frozen=True, slots=True)
class ReportStatus:
    reference: str
    status: str
    opened_at: datetime


_REFERENCE_SHAPE = re.compile(r"^[A-Za-z0-9-]{1,40}$")


async def report_status(pool: asyncpg.Pool, reference: str, code: str) -> ReportStatus | None:
    """The status of the report with this reference, if ``code`` is its status code;
    None for every kind of failure alike."""
    plain = normalised(code)
    given = hashlib.sha256(plain.encode()).digest() if plain else _NO_CODE
    # Anything that is not shaped like a reference (a NUL, which PostgreSQL refuses in
    # text, included) is simply not found.
    row = (
        await pool.fetchrow(
            """SELECT reference, status, opened_at, status_code_hash FROM cases
               WHERE reference = $1 AND reporter_receives_feedback""",
            reference,
        )
        if _REFERENCE_SHAPE.match(reference)
        else None
    )
    stored = row["status_code_hash"] if row is not None else None
    matches = hmac.compare_digest(given, stored if stored is not None else _NO_CODE)
    if row is None or stored is None or plain is None or not matches:
        return None
    return ReportStatus(row["reference"], row["status"], row["opened_at"])
