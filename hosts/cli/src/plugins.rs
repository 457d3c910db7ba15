//! The plugins compiled into this binary. Naming each crate here keeps the linker from
//! dropping it, which would silently drop its `inventory` registrations.

use seminas_nasbench101 as _;
use seminas_nasbench201 as _;
