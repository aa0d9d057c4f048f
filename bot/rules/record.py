"""Base classes that give hand-written slotted classes a dataclass's `==`, `repr` and (when frozen) hash."""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Any, ClassVar


assign = object.__setattr__
"""How a frozen record's `__init__` sets its fields."""


class Record:
    """Field-wise `==` and `repr` for a class with `__slots__` and an explicit `__init__`.

    A subclass's fields, in positional order, are the parameters of its own `__init__` (which must
    set each of them); they must name exactly its `__slots__`, which is checked when the class is
    created. Equality holds between instances of the same class with equal fields, as for a dataclass.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _get: ClassVar[Any]  # attrgetter of the fields

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        slots = cls.__dict__.get("__slots__", ())
        init = cls.__dict__.get("__init__")
        if init is None:
            if slots:
                raise TypeError(f"{cls.__name__} declares fields but no __init__")
            return  # an abstract base, or a subclass that only adds methods
        code = init.__code__
        fields = code.co_varnames[1 : code.co_argcount]
        if sorted(fields) != sorted(slots):
            raise TypeError(f"{cls.__name__}: __init__ parameters {fields} are not its __slots__")
        cls._fields = fields
        cls._get = staticmethod(attrgetter(*fields))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(self._get(self) == self._get(other))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({inner})"


class FrozenRecord(Record):
    """A Record whose fields cannot be reassigned, hashable by its fields; `__init__` sets them with `assign`."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._get(self))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field '{name}' of frozen {self.__class__.__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field '{name}' of frozen {self.__class__.__name__}")
