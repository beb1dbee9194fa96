-- description: Bridge of tags: one row per tag type on a customer, location or lead, exploded from
--   their `tagTypeIds` lists (duplicates in a list dropped). `entity_type` says which table
--   `entity_id` belongs to.
-- materialized: view
-- unique: tenant_id, entity_type, entity_id, tag_type_id
-- not_null: tenant_id, entity_type, entity_id, tag_type_id
select distinct tenant_id, entity_type, entity_id, tag_type_id
from (
    select tenant_id, 'customer' as entity_type, id as entity_id,
        unnest(from_json("tagTypeIds", '["BIGINT"]')) as tag_type_id
    from {{ source('raw_export', 'customers') }}
    union all
    select tenant_id, 'location', id, unnest(from_json("tagTypeIds", '["BIGINT"]'))
    from {{ source('raw_export', 'locations') }}
    union all
    select tenant_id, 'lead', id, unnest(from_json("tagTypeIds", '["BIGINT"]'))
    from {{ source('raw_export', 'leads') }}
)
where tag_type_id is not null
