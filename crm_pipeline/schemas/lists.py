"""Fields of the CRM v2 GET collection endpoints, from the OpenAPI description's response schemas.

Where a list endpoint answers with the same shape as an export feed, the export declaration is
reused. Contacts and contact methods have GUID (text) ids. Rows of parent-scoped endpoints also
carry their parent's ids (the columns named in the catalog's `Parent`).
"""

from crm_pipeline.schemas import export
from crm_pipeline.schemas.types import BOOL, INT, JSON, TEXT, TIMESTAMP

BOOKING_PROVIDER_TAGS = {
    "id": INT, "tagName": TEXT, "description": TEXT, "type": TEXT,
    "createdOn": TIMESTAMP, "modifiedOn": TIMESTAMP, "active": BOOL,
}
BOOKINGS = {name: t for name, t in export.BOOKINGS.items() if name != "active"}
CONTACTS = {
    "id": TEXT, "referenceId": TEXT, "name": TEXT, "title": TEXT, "isArchived": BOOL,
    "createdOn": TIMESTAMP, "createdBy": INT, "modifiedOn": TIMESTAMP, "modifiedBy": INT,
}
CONTACT_METHODS = {
    "id": TEXT, "contactId": TEXT, "referenceId": TEXT, "type": TEXT, "value": TEXT, "memo": TEXT,
    "createdOn": TIMESTAMP, "createdBy": INT, "modifiedOn": TIMESTAMP, "modifiedBy": INT,
}
CONTACT_PREFERENCE_TYPES = {"id": TEXT, "name": TEXT, "description": TEXT, "dataType": TEXT}
CUSTOMERS = export.CUSTOMERS
CUSTOMER_CONTACTS = {name: t for name, t in export.CUSTOMER_CONTACTS.items() if name != "active"}
CUSTOM_FIELD_TYPES = {
    "id": INT, "name": TEXT, "dataType": TEXT, "dataTypeOptions": JSON, "createdOn": TIMESTAMP, "modifiedOn": TIMESTAMP,
}
LEADS = {name: t for name, t in export.LEADS.items() if name != "active"}
LOCATIONS = export.LOCATIONS
LOCATION_CONTACTS = {name: t for name, t in export.LOCATION_CONTACTS.items() if name != "active"}
NOTES = {
    "id": INT, "text": TEXT, "isPinned": BOOL, "createdById": INT, "createdOn": TIMESTAMP, "modifiedOn": TIMESTAMP,
}
BOOKING_CONTACTS = {"id": INT, "type": TEXT, "value": TEXT, "memo": TEXT, "modifiedOn": TIMESTAMP}
CONTACT_RELATIONSHIPS = {
    "id": TEXT, "relatedEntityId": INT, "typeName": TEXT, "typeSlug": TEXT, "createdOn": TIMESTAMP, "createdBy": INT,
}
# `locations/{id}/preferredtechnician` answers a bare technician id (or null): one row per location.
PREFERRED_TECHNICIAN = {"technicianId": INT}
CONTACT_METHOD_PREFERENCES = {"name": TEXT, "dataType": TEXT, "value": TEXT}
