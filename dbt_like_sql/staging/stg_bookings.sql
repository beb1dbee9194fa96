-- description: Bookings (from booking providers and the web), one row per booking record, text
--   trimmed (empty as NULL), `status` (New, Accepted, Converted, Dismissed), `priority` and
--   `customer_type` as names even when the API sent numbers, `address` flattened into columns.
--   `job_id` is set once the booking was converted to a job.
-- materialized: view
-- unique: tenant_id, booking_id
-- not_null: tenant_id, booking_id, is_active
-- columns:
--   booking_name: Name of the booking's customer, trimmed (NULL when empty).
--   start_on: When the booked work is to start.
--   external_id: The booking's ID in the booking provider's system.
--   is_first_time_client: The booking is from a client new to the business.
--   send_confirmation_email: A confirmation e-mail is to be sent for the booking.
--   uploaded_image_count: Images uploaded with the booking.
select
    b.tenant_id,
    b.id as booking_id,
    case trim(b.status) when '0' then 'New' when '1' then 'Converted' when '2' then 'Dismissed' when '3' then 'Accepted'
        else nullif(trim(b.status), '') end as status,
    case trim(b.priority) when '0' then 'Low' when '1' then 'Normal' when '2' then 'High' when '3' then 'Urgent'
        else nullif(trim(b.priority), '') end as priority,
    case trim(b."customerType") when '0' then 'Residential' when '1' then 'Commercial'
        else nullif(trim(b."customerType"), '') end as customer_type,
    nullif(trim(b.source, E' \t\r\n'), '') as source,
    nullif(trim(b.name, E' \t\r\n'), '') as booking_name,
    nullif(trim(b.summary, E' \t\r\n'), '') as summary,
    b.start as start_on,
    b."campaignId" as campaign_id,
    b."businessUnitId" as business_unit_id,
    b."jobTypeId" as job_type_id,
    b."bookingProviderId" as booking_provider_id,
    b."jobId" as job_id,
    b."dismissingReasonId" as dismissing_reason_id,
    nullif(trim(b."externalId", E' \t\r\n'), '') as external_id,
    b."isFirstTimeClient" as is_first_time_client,
    b."isSendConfirmationEmail" as send_confirmation_email,
    coalesce(json_array_length(b."uploadedImages"), 0) as uploaded_image_count,
    nullif(trim(b.address ->> 'street', E' \t\r\n'), '') as street,
    nullif(trim(b.address ->> 'unit', E' \t\r\n'), '') as unit,
    nullif(trim(b.address ->> 'city', E' \t\r\n'), '') as city,
    nullif(trim(b.address ->> 'state', E' \t\r\n'), '') as state,
    nullif(trim(b.address ->> 'zip', E' \t\r\n'), '') as zip,
    nullif(trim(b.address ->> 'country', E' \t\r\n'), '') as country,
    coalesce(b.active, true) as is_active,
    b."createdOn" as created_on,
    b."modifiedOn" as modified_on
from {{ source('raw_export', 'bookings') }} as b
