"""What every settings model shares: the pydantic base, the CompID type,
setting paths and the error listing a configuration's problems."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ..errors import ConfigError

CompID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f=|]+$")]


class ConfigModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        use_enum_values=False,
        # ``senderCompId: 12345`` or ``password: 1234`` in YAML are numbers;
        # accept them for string settings instead of failing.
        coerce_numbers_to_str=True,
    )


#: A setting's path: keys (camelCase) and list indexes.
Loc = tuple[str | int, ...]


class InvalidConfigError(ConfigError):
    """The configuration has problems; ``problems`` holds one line for each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.source = source
        self.problems = tuple(problems)
