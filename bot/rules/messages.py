"""Falco's load-result codes and the message texts of its rules loader (Falco 0.44.1, engine 0.62.0)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Final


# Error codes in Falco's enum order, with the short text Falco prints next to each.
ERROR_CODES: Final[dict[str, str]] = {
    "LOAD_ERR_FILE_READ": "File read error",
    "LOAD_ERR_YAML_PARSE": "YAML parse error",
    "LOAD_ERR_YAML_VALIDATE": "Error validating internal structure of YAML file",
    "LOAD_ERR_COMPILE_CONDITION": "Error compiling condition",
    "LOAD_ERR_COMPILE_OUTPUT": "Error compiling output",
    "LOAD_ERR_VALIDATE": "Error validating rule/macro/list/exception objects",
    "LOAD_ERR_EXTENSION": "Error in extension item",
}

# Warning codes in Falco's enum order, with their short texts.
WARNING_CODES: Final[dict[str, str]] = {
    "LOAD_UNKNOWN_SOURCE": "Unknown event source",
    "LOAD_UNSAFE_NA_CHECK": "Unsafe <NA> comparison in condition",
    "LOAD_NO_EVTTYPE": "Condition has no event-type restriction",
    "LOAD_UNKNOWN_FILTER": "Unknown field or event-type in condition or output",
    "LOAD_UNUSED_MACRO": "Unused macro",
    "LOAD_UNUSED_LIST": "Unused list",
    "LOAD_UNKNOWN_ITEM": "Unknown rules file item",
    "LOAD_DEPRECATED_ITEM": "Used deprecated item",
    "LOAD_WARNING_EXTENSION": "Warning in extension item",
    "LOAD_APPEND_NO_VALUES": "Overriding/appending with no values",
    "LOAD_EXCEPTION_NAME_NOT_UNIQUE": "Multiple exceptions defined with the same name",
    "LOAD_INVALID_MACRO_NAME": "Invalid macro name",
    "LOAD_INVALID_LIST_NAME": "Invalid list name",
    "LOAD_COMPILE_CONDITION": "Warning in rule condition",
    "LOAD_UNKNOWN_KEY": "Unknown key in item definition",
}

# Codes the engine adds beyond Falco's (never shown in --format falco-json).
BOT_CODES: Final[dict[str, str]] = {
    "BOT_DUPLICATE_KEY": "Duplicate key in a YAML mapping",
    "BOT_UNKNOWN_PLUGIN": "Required plugin unknown to falco-rules-bot",
}

YAML_PARSE = "LOAD_ERR_YAML_PARSE"
YAML_VALIDATE = "LOAD_ERR_YAML_VALIDATE"
COMPILE_CONDITION = "LOAD_ERR_COMPILE_CONDITION"
COMPILE_OUTPUT = "LOAD_ERR_COMPILE_OUTPUT"
VALIDATE = "LOAD_ERR_VALIDATE"

RGX_IDENTIFIER: Final = "([a-zA-Z]+[a-zA-Z0-9_]*)"
RGX_BARESTR: Final = "([^()\"'[:space:]=,]+)"

WARNING_APPEND: Final = (
    "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
)
WARNING_ENABLED: Final = (
    "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' "
    "entry under the 'override' key (i.e. 'enabled: replace')."
)
ERROR_OVERRIDE_APPEND: Final = (
    "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry "
    "(e.g. 'condition: append') under 'override' instead."
)
ERROR_NO_PREVIOUS_LIST: Final = "List uses 'append' or 'override.items: append' but no list by that name already exists"
ERROR_NO_PREVIOUS_MACRO: Final = (
    "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists"
)
ERROR_NO_PREVIOUS_RULE_APPEND: Final = (
    "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"
)
ERROR_NO_PREVIOUS_RULE_REPLACE: Final = (
    "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists"
)
INVALID_LIST_NAME: Final = "List has an invalid name. List names should match a regular expression: " + RGX_BARESTR
INVALID_MACRO_NAME: Final = (
    "Macro has an invalid name. Macro names should match a regular expression: " + RGX_IDENTIFIER
)
CONTAINER_INFO_DEPRECATED: Final = (
    "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. "
    "The container plugin will automatically add required fields to the output message."
)
NO_EVTTYPE: Final = "Rule matches too many evt.type values. This has a significant performance penalty."
UNUSED_MACRO: Final = "Macro not referred to by any other rule/macro"
UNUSED_LIST: Final = "List not referred to by any other rule/macro"

# Falco's context item types (rule_loader::context::item_type), as printed.
VALUE_FOR = "value for"
EXCEPTIONS = "exceptions"
EXCEPTION = "exception"
EXCEPTION_VALUES = "exception values"
EXCEPTION_VALUE = "exception value"
RULES_CONTENT = "rules content"
RULES_CONTENT_ITEM = "rules content item"
REQUIRED_ENGINE_VERSION = "required_engine_version"
REQUIRED_PLUGIN_VERSIONS = "required plugin versions"
REQUIRED_PLUGIN_VERSIONS_ENTRY = "required plugin versions entry"
REQUIRED_PLUGIN_VERSIONS_ALTERNATIVE = "required plugin versions alternative"
LIST = "list"
LIST_ITEM = "list item"
MACRO = "macro"
MACRO_CONDITION = "macro condition"
RULE = "rule"
RULE_CONDITION = "rule condition"
CONDITION_EXPRESSION = "condition expression"
RULE_OUTPUT = "rule output"
RULE_OUTPUT_EXPRESSION = "rule output expression"
RULE_PRIORITY = "rule priority"
OVERRIDE = "overrides"
EXTENSION_ITEM = "extension item"


_BOT_TEXTS: dict[str, str] | None = None


def bot_message(message_id: str, **values: object) -> str:
    """One of the engine's own sentences, from templates/engine.yml."""
    global _BOT_TEXTS
    if _BOT_TEXTS is None:
        import os

        from bot.paths import TEMPLATES
        from bot.rules.yamlsrc import load_data

        with open(os.path.join(TEMPLATES, "engine.yml"), encoding="utf-8") as handle:
            _BOT_TEXTS = load_data(handle)
    assert _BOT_TEXTS is not None
    return _BOT_TEXTS[message_id].format(**values)
