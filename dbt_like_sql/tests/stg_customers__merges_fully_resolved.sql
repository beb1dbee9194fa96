-- description: A merged customer's surviving_customer_id is not itself merged (chains followed to the end).
select m.tenant_id, m.customer_id, m.surviving_customer_id
from {{ ref('stg_customers') }} as m
join {{ ref('stg_customers') }} as s
    on s.tenant_id = m.tenant_id and s.customer_id = m.surviving_customer_id
where m.is_merged and s.is_merged
