"""Why a request cannot be honoured, as the pure core says it (routing.policy).

The core never names an error class: routing.errors maps each refusal to the error the
user sees, in one table. Kept tiny: routing.errors (imported by every CLI call) imports it.
"""

from __future__ import annotations

from enum import Enum


class Refusal(Enum):
    NO_SUCH_PROFILE = "no profile has that name"
    NOT_MATCHED = "the profile's devices are not all present"
    AMBIGUOUS = "a selector matches more than one device"
