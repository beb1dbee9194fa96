-- description: In every month and campaign the five funnel stages add up to the leads, and
--   booked >= became_job.
select *
from {{ ref('lead_funnel_monthly') }}
where stage_open + stage_dismissed + stage_converted + stage_booked + stage_job <> leads
    or status_open + status_dismissed + status_converted > leads
    or became_job > booked
