"""Fields of the six export feeds, generated from the CRM v2 OpenAPI description (see `declared`).

Enums (`type`, `status`, `priority`, ...) are TEXT: the API sometimes sends them as integers, and a
raw table keeps what was sent. Nested objects and lists are JSON.
"""

from crm_pipeline.schemas.declared import fields_of

CUSTOMERS = fields_of("export/customers")
CUSTOMER_CONTACTS = fields_of("export/customers/contacts")
LOCATIONS = fields_of("export/locations")
LOCATION_CONTACTS = fields_of("export/locations/contacts")
LEADS = fields_of("export/leads")
BOOKINGS = fields_of("export/bookings")
