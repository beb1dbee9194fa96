-- description: Lead funnel totals by month created and campaign, active leads only: how many
--   leads came in, how many are still open, were dismissed, converted, booked, and became jobs,
--   with booking and job rates. The five `stage_*` counts add up to `leads`.
-- materialized: table
-- unique: tenant_id, created_month, campaign_id
-- not_null: tenant_id, leads
-- columns:
--   status_open: Leads with status Open.
--   status_dismissed: Leads with status Dismissed.
--   status_converted: Leads with status Converted.
--   booked: Leads that were booked.
--   stage_open: Leads whose furthest stage is open.
--   stage_dismissed: Leads whose furthest stage is dismissed.
--   stage_converted: Leads whose furthest stage is converted.
--   stage_booked: Leads whose furthest stage is booked.
--   stage_job: Leads whose furthest stage is a job.
select
    tenant_id,
    created_month,
    campaign_id,
    count(*) as leads,
    count(*) filter (where status = 'Open') as status_open,
    count(*) filter (where status = 'Dismissed') as status_dismissed,
    count(*) filter (where status = 'Converted') as status_converted,
    count(*) filter (where is_booked) as booked,
    count(*) filter (where has_job) as became_job,
    count(*) filter (where funnel_stage = 'open') as stage_open,
    count(*) filter (where funnel_stage = 'dismissed') as stage_dismissed,
    count(*) filter (where funnel_stage = 'converted') as stage_converted,
    count(*) filter (where funnel_stage = 'booked') as stage_booked,
    count(*) filter (where funnel_stage = 'job') as stage_job,
    round(count(*) filter (where is_booked) / count(*), 4) as booking_rate,
    round(count(*) filter (where has_job) / count(*), 4) as job_rate
from {{ ref('lead_funnel') }}
where is_active
group by all
