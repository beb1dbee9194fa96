"""Fields of the six export feeds, as documented in the CRM v2 OpenAPI description.

Enums (`type`, `status`, `priority`, ...) are TEXT: the API sometimes sends them as integers, and a
raw table keeps what was sent. Nested objects and lists are JSON.
"""

from crm_pipeline.schemas.types import BOOL, FLOAT, INT, JSON, TEXT, TIMESTAMP

_CONTACT = {
    "id": INT,
    "type": TEXT,
    "value": TEXT,
    "memo": TEXT,
    "phoneSettings": JSON,
    "preferences": JSON,
    "createdOn": TIMESTAMP,
    "modifiedOn": TIMESTAMP,
    "active": BOOL,
}

CUSTOMERS = {
    "id": INT,
    "active": BOOL,
    "name": TEXT,
    "type": TEXT,
    "address": JSON,
    "customFields": JSON,
    "balance": FLOAT,
    "taxExempt": BOOL,
    "tagTypeIds": JSON,
    "doNotMail": BOOL,
    "doNotService": BOOL,
    "nationalAccount": BOOL,
    "createdOn": TIMESTAMP,
    "createdById": INT,
    "modifiedOn": TIMESTAMP,
    "mergedToId": INT,
    "paymentTermId": INT,
    "creditLimit": FLOAT,
    "creditLimitBalance": FLOAT,
    "externalData": JSON,
}

CUSTOMER_CONTACTS = {**_CONTACT, "customerId": INT}

LOCATIONS = {
    "id": INT,
    "customerId": INT,
    "active": BOOL,
    "name": TEXT,
    "address": JSON,
    "customFields": JSON,
    "createdOn": TIMESTAMP,
    "createdById": INT,
    "modifiedOn": TIMESTAMP,
    "mergedToId": INT,
    "zoneId": INT,
    "taxZoneId": INT,
    "taxExempt": BOOL,
    "tagTypeIds": JSON,
    "externalData": JSON,
}

LOCATION_CONTACTS = {**_CONTACT, "locationId": INT}

LEADS = {
    "id": INT,
    "status": TEXT,
    "priority": TEXT,
    "summary": TEXT,
    "customerId": INT,
    "locationId": INT,
    "businessUnitId": INT,
    "jobTypeId": INT,
    "campaignId": INT,
    "callReasonId": INT,
    "callId": INT,
    "bookingId": INT,
    "manualCallId": INT,
    "followUpDate": TIMESTAMP,
    "createdById": INT,
    "createdOn": TIMESTAMP,
    "modifiedOn": TIMESTAMP,
    "tagTypeIds": JSON,
    "dismissingReasonId": INT,
    "leadUrl": TEXT,
    "leadCustomerName": TEXT,
    "leadPhone": TEXT,
    "leadEmail": TEXT,
    "leadStreet": TEXT,
    "leadUnit": TEXT,
    "leadCity": TEXT,
    "leadState": TEXT,
    "leadZip": TEXT,
    "leadCountry": TEXT,
    "captureSource": TEXT,
    "active": BOOL,
}

BOOKINGS = {
    "id": INT,
    "source": TEXT,
    "name": TEXT,
    "summary": TEXT,
    "address": JSON,
    "customerType": TEXT,
    "start": TIMESTAMP,
    "campaignId": INT,
    "businessUnitId": INT,
    "isFirstTimeClient": BOOL,
    "uploadedImages": JSON,
    "isSendConfirmationEmail": BOOL,
    "status": TEXT,
    "dismissingReasonId": INT,
    "jobId": INT,
    "externalId": TEXT,
    "priority": TEXT,
    "jobTypeId": INT,
    "bookingProviderId": INT,
    "createdOn": TIMESTAMP,
    "modifiedOn": TIMESTAMP,
    "active": BOOL,
}
