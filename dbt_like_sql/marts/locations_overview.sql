-- description: Service locations: one row per location that was not merged away, with its
--   (surviving) customer's name, the address, zone, whether it is the customer's primary location,
--   counts of its own phones and e-mails, tag type ids, and how many leads point at it.
-- materialized: table
-- unique: tenant_id, location_id
-- not_null: tenant_id, location_id, is_active, phone_count, email_count, lead_count
-- columns:
--   is_primary_location: The location is its customer's primary location (customers_overview).
with contacts as (
    select
        tenant_id,
        location_id,
        count(distinct normalized_value) filter (where channel = 'phone') as phone_count,
        count(distinct normalized_value) filter (where channel = 'email') as email_count
    from {{ ref('stg_location_contacts') }}
    group by all
),

tags as (
    select tenant_id, entity_id as location_id, list(tag_type_id order by tag_type_id) as tag_type_ids
    from {{ ref('stg_tag_assignments') }}
    where entity_type = 'location'
    group by all
),

leads as (
    select tenant_id, location_id, count(*) as lead_count
    from {{ ref('stg_leads') }}
    where location_id is not null
    group by all
)

select
    l.tenant_id,
    l.location_id,
    l.location_name,
    l.customer_id,
    c.customer_name,
    l.is_active,
    coalesce(co.primary_location_id = l.location_id, false) as is_primary_location,
    l.street,
    l.unit,
    l.city,
    l.state,
    l.zip,
    l.country,
    l.latitude,
    l.longitude,
    l.zone_id,
    l.tax_zone_id,
    l.is_tax_exempt,
    coalesce(ct.phone_count, 0) as phone_count,
    coalesce(ct.email_count, 0) as email_count,
    coalesce(t.tag_type_ids, []) as tag_type_ids,
    coalesce(ld.lead_count, 0) as lead_count,
    l.created_on,
    l.modified_on
from {{ ref('stg_locations') }} as l
left join {{ ref('stg_customers') }} as c on c.tenant_id = l.tenant_id and c.customer_id = l.customer_id
left join {{ ref('customers_overview') }} as co on co.tenant_id = l.tenant_id and co.customer_id = l.customer_id
left join contacts as ct on ct.tenant_id = l.tenant_id and ct.location_id = l.location_id
left join tags as t on t.tenant_id = l.tenant_id and t.location_id = l.location_id
left join leads as ld on ld.tenant_id = l.tenant_id and ld.location_id = l.location_id
where not l.is_merged
