-- description: Bookings by source and month count every active booking once.
select summary.tenant_id, summary.bookings, staged.bookings as staged_bookings
from (select tenant_id, sum(bookings) as bookings from {{ ref('bookings_by_source_month') }} group by all) as summary
full join (select tenant_id, count(*) as bookings from {{ ref('stg_bookings') }} where is_active group by all) as staged
    using (tenant_id)
where summary.bookings is distinct from staged.bookings
