-- description: Every location's customer is in the customers feed.
-- severity: warn
select l.tenant_id, l.location_id, l.customer_id
from {{ ref('stg_locations') }} as l
left join {{ ref('stg_customers') }} as c on c.tenant_id = l.tenant_id and c.customer_id = l.customer_id
where c.customer_id is null
