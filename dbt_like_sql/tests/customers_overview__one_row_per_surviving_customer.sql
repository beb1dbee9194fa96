-- description: customers_overview has exactly the customers that were not merged away.
select tenant_id, customer_id, count(o.customer_id) as overview_rows
from {{ ref('stg_customers') }} as c
left join {{ ref('customers_overview') }} as o using (tenant_id, customer_id)
where not c.is_merged
group by all
having count(o.customer_id) <> 1
