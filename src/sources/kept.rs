//! An inventory a source keeps itself between two polls that read inventories
//! (`PollPlan::reads_inventories`): a list it needs for every poll (Dynatrace's subscriptions,
//! Graph's SKUs) but which changes a few times a day.

use std::future::Future;
use std::sync::Mutex;

use crate::model::locks::lock;

/// The last read of an inventory, if any.
#[derive(Debug, Default)]
pub struct Kept<T>(Mutex<Option<T>>);

impl<T: Clone> Kept<T> {
    /// The kept read, unless the poll reads inventories or there is none: then `read`'s
    /// answer, kept for the next polls.
    pub async fn or_read<E, F>(&self, reads_inventories: bool, read: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let kept = lock(&self.0).clone();
        if let (false, Some(kept)) = (reads_inventories, kept) {
            return Ok(kept);
        }
        let fresh = read.await?;
        *lock(&self.0) = Some(fresh.clone());
        Ok(fresh)
    }
}
