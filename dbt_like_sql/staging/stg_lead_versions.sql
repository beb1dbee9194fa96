-- description: Every version of every lead the leads export feed delivered (`raw_history.leads`),
--   one row per lead and `modifiedOn`, each valid from its `modifiedOn` until the next version's
--   (`valid_to` NULL: the current version). `status` as in `stg_leads` (names even when the API
--   sent numbers). Empty while CRM_HISTORY is off.
-- materialized: view
-- unique: tenant_id, lead_id, valid_from
-- not_null: tenant_id, lead_id, valid_from, version_number
-- columns:
--   tenant_id: ServiceTitan tenant.
--   lead_id: ID of the lead.
--   version_number: 1 for the first version the pipeline received, then 2, 3, ...
--   status: The lead's status in this version: Open, Dismissed or Converted.
--   priority: The lead's priority in this version: Low, Normal, High or Urgent.
--   is_active: False when the lead had been deactivated in this version.
--   valid_from: When this version was made (its `modifiedOn`, UTC).
--   valid_to: When the next version was made; NULL for the current version.
--   is_current: True for the lead's newest version.
--   synced_at: When the pipeline first stored this version.
select
    h.tenant_id,
    h.id as lead_id,
    row_number() over lead_versions as version_number,
    case trim(h.status) when '0' then 'Open' when '1' then 'Dismissed' when '2' then 'Converted'
        else nullif(trim(h.status), '') end as status,
    case trim(h.priority) when '0' then 'Low' when '1' then 'Normal' when '2' then 'High' when '3' then 'Urgent'
        else nullif(trim(h.priority), '') end as priority,
    coalesce(h.active, true) as is_active,
    h."modifiedOn" as valid_from,
    lead(h."modifiedOn") over lead_versions as valid_to,
    lead(h."modifiedOn") over lead_versions is null as is_current,
    h._synced_at as synced_at
from {{ source('raw_history', 'leads') }} as h
window lead_versions as (partition by h.tenant_id, h.id order by h."modifiedOn")
