-- description: Every e-mail contact point looks like an address (something@domain).
-- severity: warn
select tenant_id, customer_id, contact_value
from {{ ref('contact_points') }}
where channel = 'email' and not regexp_matches(contact_value, '^[^@\s]+@[^@\s]+$')
