-- description: Service locations, one row per location record, text trimmed (empty as NULL) and
--   `address` flattened into columns. Merges are resolved both ways: `surviving_location_id` follows
--   the location's own `mergedToId` chain, and `customer_id` is the surviving customer of the
--   customer the location belongs to (`sent_customer_id` is the id the API sent).
-- materialized: table
-- unique: tenant_id, location_id
-- not_null: tenant_id, location_id, surviving_location_id, is_merged, is_active
with recursive merge_chain as (
    select tenant_id, id as location_id, id as current_id, 0 as depth
    from {{ source('raw_export', 'locations') }}
    union all
    select chain.tenant_id, chain.location_id, raw."mergedToId", chain.depth + 1
    from merge_chain as chain
    join {{ source('raw_export', 'locations') }} as raw
        on raw.tenant_id = chain.tenant_id and raw.id = chain.current_id
    where raw."mergedToId" is not null and raw."mergedToId" <> raw.id and chain.depth < 20
),

survivors as (
    select tenant_id, location_id, arg_max(current_id, depth) as surviving_location_id
    from merge_chain
    group by all
)

select
    l.tenant_id,
    l.id as location_id,
    coalesce(c.surviving_customer_id, l."customerId") as customer_id,
    l."customerId" as sent_customer_id,
    nullif(trim(l.name, E' \t\r\n'), '') as location_name,
    coalesce(l.active, true) and not coalesce(l."mergedToId" <> l.id, false) as is_active,
    coalesce(l."mergedToId" <> l.id, false) as is_merged,
    l."mergedToId" as merged_to_id,
    s.surviving_location_id,
    nullif(trim(l.address ->> 'street', E' \t\r\n'), '') as street,
    nullif(trim(l.address ->> 'unit', E' \t\r\n'), '') as unit,
    nullif(trim(l.address ->> 'city', E' \t\r\n'), '') as city,
    nullif(trim(l.address ->> 'state', E' \t\r\n'), '') as state,
    nullif(trim(l.address ->> 'zip', E' \t\r\n'), '') as zip,
    nullif(trim(l.address ->> 'country', E' \t\r\n'), '') as country,
    try_cast(l.address ->> 'latitude' as double) as latitude,
    try_cast(l.address ->> 'longitude' as double) as longitude,
    l."zoneId" as zone_id,
    l."taxZoneId" as tax_zone_id,
    coalesce(l."taxExempt", false) as is_tax_exempt,
    l."createdById" as created_by_id,
    l."createdOn" as created_on,
    l."modifiedOn" as modified_on,
    l._synced_at as synced_at
from {{ source('raw_export', 'locations') }} as l
join survivors as s on s.tenant_id = l.tenant_id and s.location_id = l.id
left join {{ ref('stg_customers') }} as c on c.tenant_id = l.tenant_id and c.customer_id = l."customerId"
