"""The one base of every config model, and the number types configs share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: Seconds, at least 0.
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
#: Seconds, more than 0.
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
#: A share or probability, 0 to 1.
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class StrictModel(BaseModel):
    """A config section: unknown fields are errors (a typo never passes silently) and values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)
