-- description: Contact points of customers: one row per customer, channel (phone, email, fax) and
--   normalized number or address, deduplicated across the customer's own contacts, the contacts
--   of its locations and of customers merged into it. Do-not-contact flags: `do_not_text` (any
--   record asks not to text), `marketing_opt_out` (marketing updates turned off), and the
--   customer's `do_not_mail` / `do_not_service`. `customers_sharing` counts customers that
--   list the same point (shared family or office numbers).
-- materialized: table
-- unique: tenant_id, customer_id, channel, contact_value
-- not_null: tenant_id, channel, contact_value, is_active
-- columns:
--   contact_value: The normalized phone number or e-mail address (the key with channel).
--   display_value: The point as written on its oldest active record.
--   is_mobile: Any record of the point is a mobile phone.
--   marketing_opt_out: Any record of the point turned marketing updates off.
--   customers_sharing: Customers that list the same point.
--   contact_records: Contact records (customer's and its locations') folded into this row.
--   location_ids: Locations whose contacts list the point, sorted.
--   first_created_on: When the oldest record of the point was created.
--   last_modified_on: When a record of the point was last modified.
with points as (
    select tenant_id, customer_id, null::bigint as location_id, contact_type, channel, normalized_value,
        value, do_not_text, marketing_updates_enabled, is_active, created_on, modified_on
    from {{ ref('stg_customer_contacts') }}
    union all
    select tenant_id, customer_id, location_id, contact_type, channel, normalized_value,
        value, do_not_text, marketing_updates_enabled, is_active, created_on, modified_on
    from {{ ref('stg_location_contacts') }}
),

deduplicated as (
    select
        tenant_id,
        customer_id,
        channel,
        normalized_value as contact_value,
        arg_min(value, (not is_active, created_on)) as display_value,
        bool_or(contact_type = 'MobilePhone') as is_mobile,
        bool_or(is_active) as is_active,
        bool_or(do_not_text) as do_not_text,
        coalesce(bool_or(marketing_updates_enabled = false), false) as marketing_opt_out,
        count(*) as contact_records,
        list(distinct location_id order by location_id) filter (where location_id is not null) as location_ids,
        min(created_on) as first_created_on,
        max(modified_on) as last_modified_on
    from points
    where normalized_value is not null
    group by all
)

select
    d.tenant_id,
    d.customer_id,
    c.customer_name,
    d.channel,
    d.contact_value,
    d.display_value,
    d.is_mobile,
    d.is_active,
    d.do_not_text,
    d.marketing_opt_out,
    coalesce(c.do_not_mail, false) as do_not_mail,
    coalesce(c.do_not_service, false) as do_not_service,
    count(*) over (partition by d.tenant_id, d.channel, d.contact_value) as customers_sharing,
    d.contact_records,
    coalesce(d.location_ids, []) as location_ids,
    d.first_created_on,
    d.last_modified_on
from deduplicated as d
left join {{ ref('stg_customers') }} as c on c.tenant_id = d.tenant_id and c.customer_id = d.customer_id
