-- description: Active bookings by month created, source and campaign: how many came in, how many
--   are new, accepted, dismissed or converted, how many became jobs, and first-time clients.
--   An empty or missing source reads 'unknown'.
-- materialized: table
-- unique: tenant_id, booking_month, source, campaign_id
-- not_null: tenant_id, source, bookings
-- columns:
--   booking_month: First day of the month the bookings were created in.
--   status_new: Bookings with status New.
--   status_accepted: Bookings with status Accepted.
--   status_dismissed: Bookings with status Dismissed.
--   status_converted: Bookings with status Converted.
--   first_time_clients: Bookings from first-time clients.
select
    tenant_id,
    date_trunc('month', created_on)::date as booking_month,
    coalesce(source, 'unknown') as source,
    campaign_id,
    count(*) as bookings,
    count(*) filter (where status = 'New') as status_new,
    count(*) filter (where status = 'Accepted') as status_accepted,
    count(*) filter (where status = 'Dismissed') as status_dismissed,
    count(*) filter (where status = 'Converted') as status_converted,
    count(*) filter (where job_id is not null) as became_job,
    count(*) filter (where is_first_time_client) as first_time_clients,
    round(count(*) filter (where job_id is not null) / count(*), 4) as job_rate
from {{ ref('stg_bookings') }}
where is_active
group by all
