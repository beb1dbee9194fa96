-- description: Customer contact methods (phone, mobile, e-mail, fax), one row per contact record.
--   `contact_type` is a name even when the API sent a number; `channel` is phone, email or fax;
--   `normalized_value` is the e-mail address lower-cased or the phone's digits (US country code dropped,
--   `x<extension>` kept), the key to deduplicate on. `phoneSettings` and `preferences` are flattened.
--   `customer_id` is the surviving customer when the customer was merged.
-- materialized: view
-- unique: tenant_id, contact_id
-- not_null: tenant_id, contact_id, sent_customer_id, is_active
with typed as (
    select
        *,
        case trim(type) when '0' then 'Phone' when '1' then 'Email' when '2' then 'Fax' when '3' then 'MobilePhone'
            else nullif(trim(type), '') end as contact_type,
        nullif(trim(value, E' \t\r\n'), '') as clean_value
    from {{ source('raw_export', 'customers_contacts') }}
)

select
    t.tenant_id,
    t.id as contact_id,
    coalesce(c.surviving_customer_id, t."customerId") as customer_id,
    t."customerId" as sent_customer_id,
    t.contact_type,
    case when t.contact_type = 'Email' then 'email' when t.contact_type = 'Fax' then 'fax' else 'phone' end as channel,
    t.clean_value as value,
    case
        when t.contact_type = 'Email' then lower(coalesce(nullif(regexp_extract(t.clean_value, '[^\s<>(),;"]+@[^\s<>(),;"]+'), ''), t.clean_value))
        else nullif(regexp_replace(regexp_replace(regexp_replace(t.clean_value, '\s*(x|ext\.?)\s*\d+$', '', 'i'),
            '[^0-9]', '', 'g'), '^1(\d{10})$', '\1'), '')
            || coalesce('x' || nullif(regexp_extract(t.clean_value, '(x|ext\.?)\s*(\d+)$', 2, 'i'), ''), '')
    end as normalized_value,
    nullif(trim(t.memo, E' \t\r\n'), '') as memo,
    nullif(trim(t."phoneSettings" ->> 'phoneNumber', E' \t\r\n'), '') as settings_phone_number,
    coalesce(try_cast(t."phoneSettings" ->> 'doNotText' as boolean), false) as do_not_text,
    try_cast(t.preferences ->> 'jobRemindersEnabled' as boolean) as job_reminders_enabled,
    try_cast(t.preferences ->> 'marketingUpdatesEnabled' as boolean) as marketing_updates_enabled,
    try_cast(t.preferences ->> 'invoiceNotification' as boolean) as invoice_notification_enabled,
    try_cast(t.preferences ->> 'statementNotification' as boolean) as statement_notification_enabled,
    coalesce(t.active, true) as is_active,
    t."createdOn" as created_on,
    t."modifiedOn" as modified_on
from typed as t
left join {{ ref('stg_customers') }} as c on c.tenant_id = t.tenant_id and c.customer_id = t."customerId"
