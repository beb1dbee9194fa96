-- description: Bridge of custom fields: one row per `{typeId, name, value}` entry of a customer's
--   or location's `customFields` list, name and value trimmed (empty as NULL; "0" and "00123"
--   stay text). `entity_type` says which table `entity_id` belongs to.
-- materialized: view
-- not_null: tenant_id, entity_type, entity_id
-- columns:
--   custom_field_type_id: ID of the custom field type (customers/custom-fields, locations/custom-fields).
--   field_name: Name (label) of the custom field, trimmed.
--   field_value: Value of the custom field, as text, trimmed (NULL when empty).
select
    tenant_id,
    entity_type,
    entity_id,
    field.typeId as custom_field_type_id,
    nullif(trim(field.name, E' \t\r\n'), '') as field_name,
    nullif(trim(field.value, E' \t\r\n'), '') as field_value
from (
    select tenant_id, 'customer' as entity_type, id as entity_id,
        unnest(from_json("customFields", '[{"typeId": "BIGINT", "name": "VARCHAR", "value": "VARCHAR"}]')) as field
    from {{ source('raw_export', 'customers') }}
    union all
    select tenant_id, 'location', id,
        unnest(from_json("customFields", '[{"typeId": "BIGINT", "name": "VARCHAR", "value": "VARCHAR"}]'))
    from {{ source('raw_export', 'locations') }}
)
