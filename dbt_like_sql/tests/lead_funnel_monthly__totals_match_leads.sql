-- description: The funnel counts every active lead once: its total equals the active leads in stg_leads.
select funnel.tenant_id, funnel.leads, staged.leads as staged_leads
from (select tenant_id, sum(leads) as leads from {{ ref('lead_funnel_monthly') }} group by all) as funnel
full join (select tenant_id, count(*) as leads from {{ ref('stg_leads') }} where is_active group by all) as staged
    using (tenant_id)
where funnel.leads is distinct from staged.leads
