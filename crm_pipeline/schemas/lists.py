"""Fields of the CRM v2 GET collection endpoints, generated from the OpenAPI description's response schemas
(see `declared`). Contacts and contact methods have GUID (text) ids. Rows of parent-scoped endpoints also
carry their parent's ids (the columns named in the catalog's `Parent`).
"""

from crm_pipeline.schemas.declared import fields_of
from crm_pipeline.schemas.types import INT

BOOKING_PROVIDER_TAGS = fields_of("booking-provider-tags")
BOOKINGS = fields_of("bookings")
CONTACTS = fields_of("contacts")
CONTACT_METHODS = fields_of("contacts/contact-methods")
CONTACT_PREFERENCE_TYPES = fields_of("contacts/preferences")
CUSTOMERS = fields_of("customers")
CUSTOMER_CONTACTS = fields_of("customers/contacts")
CUSTOMER_CUSTOM_FIELD_TYPES = fields_of("customers/custom-fields")
LEADS = fields_of("leads")
LOCATIONS = fields_of("locations")
LOCATION_CONTACTS = fields_of("locations/contacts")
LOCATION_CUSTOM_FIELD_TYPES = fields_of("locations/custom-fields")
CUSTOMER_NOTES = fields_of("customers/{id}/notes")
LOCATION_NOTES = fields_of("locations/{id}/notes")
LEAD_NOTES = fields_of("leads/{id}/notes")
BOOKING_CONTACTS = fields_of("bookings/{id}/contacts")
CONTACT_RELATIONSHIPS = fields_of("contacts/{contactId}/relationships")
# `locations/{id}/preferredtechnician` answers a bare technician id (or null): one row per location.
# The spec names no field for it, so the pipeline names the column (described in `declared`).
PREFERRED_TECHNICIAN = {"technicianId": INT}
CONTACT_METHOD_PREFERENCES = fields_of("contacts/{contactId}/contact-methods/{contactMethodId}/preferences")
