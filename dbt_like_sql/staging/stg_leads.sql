-- description: Leads, one row per lead record, text trimmed (empty as NULL), `status` (Open,
--   Dismissed, Converted) and `priority` as names even when the API sent numbers. `customer_id`
--   and `location_id` point at the surviving customer and location when those were merged.
-- materialized: view
-- unique: tenant_id, lead_id
-- not_null: tenant_id, lead_id, is_active
-- columns:
--   lead_url: Link to the lead in ServiceTitan.
--   lead_customer_name: Customer name given on the lead (before a customer record exists).
--   lead_phone: Phone given on the lead.
--   lead_email: E-mail given on the lead, lower-cased.
--   lead_street: Street given on the lead.
--   lead_unit: Unit given on the lead.
--   lead_city: City given on the lead.
--   lead_state: State given on the lead.
--   lead_zip: ZIP or postal code given on the lead.
--   lead_country: Country given on the lead.
--   follow_up_on: When to follow the lead up.
select
    l.tenant_id,
    l.id as lead_id,
    case trim(l.status) when '0' then 'Open' when '1' then 'Dismissed' when '2' then 'Converted'
        else nullif(trim(l.status), '') end as status,
    case trim(l.priority) when '0' then 'Low' when '1' then 'Normal' when '2' then 'High' when '3' then 'Urgent'
        else nullif(trim(l.priority), '') end as priority,
    nullif(trim(l.summary, E' \t\r\n'), '') as summary,
    coalesce(c.surviving_customer_id, l."customerId") as customer_id,
    coalesce(loc.surviving_location_id, l."locationId") as location_id,
    l."campaignId" as campaign_id,
    l."businessUnitId" as business_unit_id,
    l."jobTypeId" as job_type_id,
    l."callReasonId" as call_reason_id,
    l."callId" as call_id,
    l."manualCallId" as manual_call_id,
    l."bookingId" as booking_id,
    l."dismissingReasonId" as dismissing_reason_id,
    nullif(trim(l."captureSource", E' \t\r\n'), '') as capture_source,
    nullif(trim(l."leadUrl", E' \t\r\n'), '') as lead_url,
    nullif(trim(l."leadCustomerName", E' \t\r\n'), '') as lead_customer_name,
    nullif(trim(l."leadPhone", E' \t\r\n'), '') as lead_phone,
    lower(nullif(trim(l."leadEmail", E' \t\r\n'), '')) as lead_email,
    nullif(trim(l."leadStreet", E' \t\r\n'), '') as lead_street,
    nullif(trim(l."leadUnit", E' \t\r\n'), '') as lead_unit,
    nullif(trim(l."leadCity", E' \t\r\n'), '') as lead_city,
    nullif(trim(l."leadState", E' \t\r\n'), '') as lead_state,
    nullif(trim(l."leadZip", E' \t\r\n'), '') as lead_zip,
    nullif(trim(l."leadCountry", E' \t\r\n'), '') as lead_country,
    l."followUpDate" as follow_up_on,
    coalesce(l.active, true) as is_active,
    l."createdById" as created_by_id,
    l."createdOn" as created_on,
    l."modifiedOn" as modified_on
from {{ source('raw_export', 'leads') }} as l
left join {{ ref('stg_customers') }} as c on c.tenant_id = l.tenant_id and c.customer_id = l."customerId"
left join {{ ref('stg_locations') }} as loc on loc.tenant_id = l.tenant_id and loc.location_id = l."locationId"
