-- description: How long leads stay in each status, per tenant and status, from `lead_status_history`:
--   periods that ended (the lead moved on) and periods still running, with the average and median
--   days of the ended ones.
-- materialized: table
-- unique: tenant_id, status
-- not_null: tenant_id, leads, periods, ended_periods, current_periods
-- columns:
--   tenant_id: ServiceTitan tenant.
--   status: The status (NULL: versions that sent none).
--   leads: Leads that were ever in this status.
--   periods: Periods spent in this status (a lead may return to a status).
--   ended_periods: Periods that ended: the lead moved to another status.
--   current_periods: Leads in this status now.
--   avg_days_ended: Average days of the ended periods (NULL if none ended).
--   median_days_ended: Median days of the ended periods (NULL if none ended).
--   max_days_current: Longest time a lead now in this status has been in it, in days.
select
    tenant_id,
    status,
    count(distinct lead_id) as leads,
    count(*) as periods,
    count(*) filter (where not is_current) as ended_periods,
    count(*) filter (where is_current) as current_periods,
    avg(days_in_status) filter (where not is_current) as avg_days_ended,
    median(days_in_status) filter (where not is_current) as median_days_ended,
    max(days_in_status) filter (where is_current) as max_days_current
from {{ ref('lead_status_history') }}
group by tenant_id, status
