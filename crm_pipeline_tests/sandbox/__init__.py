"""A local fake of the ServiceTitan CRM v2 API (OAuth token endpoint, export feeds and list
endpoints such as /customers, /customers/{id}/notes) over real HTTP.

    from crm_pipeline_tests.sandbox import Sandbox
    with Sandbox(seed=7, sizes={"customers": 300}) as sb:
        os.environ.update(sb.env())
        ...

Run `python -m crm_pipeline_tests.sandbox --help` (from the repository root) to serve one in the
foreground. Test support, like the demo: the crm-pipeline wheel holds `crm_pipeline` only.
"""

from .faults import KINDS as FAULT_KINDS
from .sandbox import LoggedRequest, Sandbox
from .store import FEEDS

__all__ = ["Sandbox", "LoggedRequest", "FEEDS", "FAULT_KINDS"]
