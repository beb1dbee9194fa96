-- description: Each lead's status over time: one row per period in which a lead kept one status,
--   from the leads' delivered versions (`stg_lead_versions`; consecutive versions with the same
--   status are one period). The status of lead X on date D is the row with `valid_from <= D` and
--   (`valid_to` > D or `valid_to` NULL). History begins with the first version the pipeline received.
-- materialized: table
-- unique: tenant_id, lead_id, valid_from
-- not_null: tenant_id, lead_id, valid_from, versions, is_current
-- columns:
--   tenant_id: ServiceTitan tenant.
--   lead_id: ID of the lead.
--   status: The lead's status during the period (NULL if a version sent none).
--   valid_from: When the lead entered this status (the `modifiedOn` of the period's first version, UTC).
--   valid_to: When the lead left it (the next period's `valid_from`); NULL while it is still in it.
--   is_current: True for the lead's present status.
--   versions: How many delivered versions of the lead fall in this period.
--   days_in_status: Days from `valid_from` to `valid_to` (to now for the current period), fractional.
with marked as (
    select
        *,
        status is distinct from lag(status) over (partition by tenant_id, lead_id order by valid_from) as starts_period
    from {{ ref('stg_lead_versions') }}
),
numbered as (
    select *, sum(starts_period::int) over (partition by tenant_id, lead_id order by valid_from) as period
    from marked
),
periods as (
    select tenant_id, lead_id, period, any_value(status) as status, min(valid_from) as valid_from,
        count(*) as versions
    from numbered
    group by tenant_id, lead_id, period
)
select
    tenant_id,
    lead_id,
    status,
    valid_from,
    lead(valid_from) over (partition by tenant_id, lead_id order by valid_from) as valid_to,
    lead(valid_from) over (partition by tenant_id, lead_id order by valid_from) is null as is_current,
    versions,
    date_diff('second', valid_from,
        coalesce(lead(valid_from) over (partition by tenant_id, lead_id order by valid_from), now())) / 86400.0
        as days_in_status
from periods
