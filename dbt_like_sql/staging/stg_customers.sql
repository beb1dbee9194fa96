-- description: Customers, one row per customer record (active, inactive and merged), text trimmed
--   (empty as NULL), `type` as a name, `address` flattened into columns. Merges are resolved:
--   `surviving_customer_id` is the customer a merged record ended up in, following chains of
--   `mergedToId`; it is the customer itself when the record was not merged.
-- materialized: table
-- unique: tenant_id, customer_id
-- not_null: tenant_id, customer_id, surviving_customer_id, is_merged, is_active
with recursive merge_chain as (
    select tenant_id, id as customer_id, id as current_id, 0 as depth
    from {{ source('raw_export', 'customers') }}
    union all
    select chain.tenant_id, chain.customer_id, raw."mergedToId", chain.depth + 1
    from merge_chain as chain
    join {{ source('raw_export', 'customers') }} as raw
        on raw.tenant_id = chain.tenant_id and raw.id = chain.current_id
    where raw."mergedToId" is not null and raw."mergedToId" <> raw.id and chain.depth < 20
),

survivors as (
    select tenant_id, customer_id, arg_max(current_id, depth) as surviving_customer_id
    from merge_chain
    group by all
)

select
    c.tenant_id,
    c.id as customer_id,
    nullif(trim(c.name, E' \t\r\n'), '') as customer_name,
    case trim(c.type) when '0' then 'Residential' when '1' then 'Commercial'
        else nullif(trim(c.type), '') end as customer_type,
    coalesce(c.active, true) and not coalesce(c."mergedToId" <> c.id, false) as is_active,
    coalesce(c."mergedToId" <> c.id, false) as is_merged,
    c."mergedToId" as merged_to_id,
    s.surviving_customer_id,
    nullif(trim(c.address ->> 'street', E' \t\r\n'), '') as street,
    nullif(trim(c.address ->> 'unit', E' \t\r\n'), '') as unit,
    nullif(trim(c.address ->> 'city', E' \t\r\n'), '') as city,
    nullif(trim(c.address ->> 'state', E' \t\r\n'), '') as state,
    nullif(trim(c.address ->> 'zip', E' \t\r\n'), '') as zip,
    nullif(trim(c.address ->> 'country', E' \t\r\n'), '') as country,
    try_cast(c.address ->> 'latitude' as double) as latitude,
    try_cast(c.address ->> 'longitude' as double) as longitude,
    c.balance,
    c."creditLimit" as credit_limit,
    c."creditLimitBalance" as credit_limit_balance,
    c."paymentTermId" as payment_term_id,
    coalesce(c."taxExempt", false) as is_tax_exempt,
    coalesce(c."doNotMail", false) as do_not_mail,
    coalesce(c."doNotService", false) as do_not_service,
    coalesce(c."nationalAccount", false) as is_national_account,
    c."createdById" as created_by_id,
    c."createdOn" as created_on,
    c."modifiedOn" as modified_on,
    c._synced_at as synced_at
from {{ source('raw_export', 'customers') }} as c
join survivors as s on s.tenant_id = c.tenant_id and s.customer_id = c.id
