//! The network edge: accepts connections and runs one session per connection.

pub mod frame;
pub mod limits;
pub mod sendfile;
pub mod session;
