"""Turn one page of API records into a validated pandas frame, setting aside what fails.

Each declared value is first checked on its own against its field type (so that one odd value
never fails a whole column, and so the whole page), then the endpoint's pandera schema coerces
and validates the frame (lazy: every failure at once). A record that fails is not dropped: it is
returned with its reasons, for the quarantine table. Fields the schema does not know are kept, as
JSON text, in columns of their own.

What is stored as sent, converted, or quarantined (per field type):
- int: JSON integers in the 64-bit range, whole floats (``3.0``) and integer text (``"42"``); a
  fraction, a boolean, other text or an out-of-range number is quarantined.
- float: finite numbers and numeric text; anything else (a boolean, ``"lots"``, an overflow) is quarantined.
- bool: ``true``/``false`` (and ``0``/``1``); anything else is quarantined.
- timestamp: ISO 8601 text (no zone means UTC, an empty text NULL) from 1677 to 2262 (pandas'
  nanosecond range); anything else is quarantined.
- text: text as is; a number, boolean, object or list as its JSON text (an enum sent as ``2`` is
  ``"2"``).
- json: the value's JSON text.
- Text DuckDB cannot hold (an unpaired UTF-16 surrogate, which a JSON escape can carry) is quarantined.
- null is NULL in every non-key field; a null or missing key is quarantined.
A field name DuckDB cannot tell from another (same name but for case, the pipeline's own columns,
the empty name) quarantines the record, as no column could hold it.

The modules, in the order a page meets them: records (decoding), names (field names), frame (each
column checked: values, the exact checks; columns, the fast paths), coercion (pandera), quarantine
(what a refused record is kept as), page (`validate_page`, putting them together). No module here
imports the catalog or the schemas at run time: each field type (crm_pipeline.schemas.types) names
its own rules from values and columns.
"""

from crm_pipeline.page_types import ValidatedPage
from crm_pipeline.validation.coercion import warm_up
from crm_pipeline.validation.page import validate_page

__all__ = ["ValidatedPage", "validate_page", "warm_up"]
