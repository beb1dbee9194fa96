-- description: The lead funnel, one row per lead (inactive leads included, flagged `is_active`):
--   its status, whether it was booked (`booking_id` set), the booking's status and whether that
--   booking became a job (`job_id`, when the booking is in the bookings feed). `funnel_stage` is
--   the furthest stage reached, exactly one per lead: job, booked, converted, dismissed or open.
-- materialized: table
-- unique: tenant_id, lead_id
-- not_null: tenant_id, lead_id, funnel_stage, is_booked, has_job
-- columns:
--   booking_found: The lead's booking is in the bookings feed.
--   booking_status: Status of the lead's booking.
--   booking_source: Source of the lead's booking.
--   funnel_stage: Furthest stage reached: job, booked, converted, dismissed or open.
--   days_to_booking: Days from the lead's creation to its booking's creation.
select
    l.tenant_id,
    l.lead_id,
    l.created_on,
    date_trunc('month', l.created_on)::date as created_month,
    l.status,
    l.priority,
    l.campaign_id,
    l.capture_source,
    l.customer_id,
    l.location_id,
    l.is_active,
    l.booking_id,
    b.booking_id is not null as booking_found,
    b.status as booking_status,
    b.source as booking_source,
    b.job_id,
    l.booking_id is not null as is_booked,
    b.job_id is not null as has_job,
    case
        when b.job_id is not null then 'job'
        when l.booking_id is not null then 'booked'
        when l.status = 'Converted' then 'converted'
        when l.status = 'Dismissed' then 'dismissed'
        else 'open'
    end as funnel_stage,
    date_diff('day', l.created_on, b.created_on) as days_to_booking
from {{ ref('stg_leads') }} as l
left join {{ ref('stg_bookings') }} as b on b.tenant_id = l.tenant_id and b.booking_id = l.booking_id
