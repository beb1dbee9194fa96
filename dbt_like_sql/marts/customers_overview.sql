-- description: Customers as an office manager sees them: one row per customer that was not merged
--   away (merged records are folded into their survivor, counted in `merged_record_count`), with
--   billing address, primary location (the oldest active one, else the oldest), location count,
--   primary phone and e-mail (oldest active contact point), contact point counts and tag type ids.
-- materialized: table
-- unique: tenant_id, customer_id
-- not_null: tenant_id, customer_id, is_active, location_count, phone_count, email_count
-- columns:
--   billing_street: Street of the customer's (billing) address.
--   billing_city: City of the customer's (billing) address.
--   billing_state: State of the customer's (billing) address.
--   billing_zip: ZIP of the customer's (billing) address.
--   primary_location_id: The primary location: the oldest active one, else the oldest.
--   primary_location_name: Name of the primary location.
--   primary_location_street: Street of the primary location.
--   primary_location_city: City of the primary location.
--   primary_location_state: State of the primary location.
--   primary_location_zip: ZIP of the primary location.
--   primary_phone: The oldest active phone number of the customer or its locations.
--   primary_email: The oldest active e-mail address of the customer or its locations.
--   merged_record_count: Customer records merged into this one.
with locations as (
    select
        *,
        row_number() over (partition by tenant_id, customer_id order by is_active desc, created_on, location_id) as rank
    from {{ ref('stg_locations') }}
    where not is_merged
),

location_summary as (
    select tenant_id, customer_id, count(*) as location_count, count(*) filter (where is_active) as active_location_count
    from locations
    group by all
),

contacts as (
    select
        tenant_id,
        customer_id,
        arg_min(display_value, (not is_active, first_created_on)) filter (where channel = 'phone') as primary_phone,
        arg_min(display_value, (not is_active, first_created_on)) filter (where channel = 'email') as primary_email,
        count(*) filter (where channel = 'phone') as phone_count,
        count(*) filter (where channel = 'email') as email_count
    from {{ ref('contact_points') }}
    group by all
),

tags as (
    select tenant_id, entity_id as customer_id, list(tag_type_id order by tag_type_id) as tag_type_ids
    from {{ ref('stg_tag_assignments') }}
    where entity_type = 'customer'
    group by all
),

merged as (
    select tenant_id, surviving_customer_id as customer_id, count(*) as merged_record_count
    from {{ ref('stg_customers') }}
    where is_merged
    group by all
)

select
    c.tenant_id,
    c.customer_id,
    c.customer_name,
    c.customer_type,
    c.is_active,
    c.do_not_mail,
    c.do_not_service,
    c.balance,
    c.street as billing_street,
    c.city as billing_city,
    c.state as billing_state,
    c.zip as billing_zip,
    l.location_id as primary_location_id,
    l.location_name as primary_location_name,
    l.street as primary_location_street,
    l.city as primary_location_city,
    l.state as primary_location_state,
    l.zip as primary_location_zip,
    coalesce(ls.location_count, 0) as location_count,
    coalesce(ls.active_location_count, 0) as active_location_count,
    ct.primary_phone,
    ct.primary_email,
    coalesce(ct.phone_count, 0) as phone_count,
    coalesce(ct.email_count, 0) as email_count,
    coalesce(t.tag_type_ids, []) as tag_type_ids,
    coalesce(m.merged_record_count, 0) as merged_record_count,
    c.created_on,
    c.modified_on
from {{ ref('stg_customers') }} as c
left join locations as l on l.tenant_id = c.tenant_id and l.customer_id = c.customer_id and l.rank = 1
left join location_summary as ls on ls.tenant_id = c.tenant_id and ls.customer_id = c.customer_id
left join contacts as ct on ct.tenant_id = c.tenant_id and ct.customer_id = c.customer_id
left join tags as t on t.tenant_id = c.tenant_id and t.customer_id = c.customer_id
left join merged as m on m.tenant_id = c.tenant_id and m.customer_id = c.customer_id
where not c.is_merged
