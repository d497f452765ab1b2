//! Reading `$all` forwards after a position, page by page, every event (system ones too):
//! the 4.0 client cannot filter reads of `$all` on the server, so callers filter.

use eventstore::{Client, ReadAllOptions, ReadStream, StreamPosition};

use super::mapping::{esdb_position, log_position, start_of_all};
use crate::Position;

/// Reads `$all` forwards, strictly after a position.
pub(crate) struct AllReader {
    client: Client,
    page_size: usize,
    /// Events at or before this position were handed out (or are before the start).
    seen_through: Position,
    /// Where the next page starts (inclusive).
    next_page_from: StreamPosition<eventstore::Position>,
    page: Option<ReadStream>,
    new_in_page: usize,
    /// The last position read, handed out or not.
    scanned_to: Option<Position>,
    at_end: bool,
}

impl AllReader {
    /// A reader of the events strictly after `after`, starting the scan at `from`
    /// (inclusive; `from >= after`, see [`ScanHints`](super::hints::ScanHints)), `page_size`
    /// events per request.
    pub(crate) fn new(client: Client, after: Position, from: Position, page_size: usize) -> Self {
        AllReader {
            client,
            page_size: page_size.max(2),
            seen_through: after,
            next_page_from: start_of_all(from.max(after)),
            page: None,
            new_in_page: 0,
            scanned_to: None,
            at_end: false,
        }
    }

    /// The next event of `$all`, or `None` at its end.
    pub(crate) async fn next(&mut self) -> eventstore::Result<Option<eventstore::RecordedEvent>> {
        while !self.at_end {
            let page = match self.page.as_mut() {
                Some(page) => page,
                None => self.open_page().await?,
            };
            match page.next().await? {
                Some(resolved) => {
                    // Without link resolution the event is the original; a link is a `$>`.
                    let Some(event) = resolved.link.or(resolved.event) else {
                        continue;
                    };
                    let position = log_position(event.position);
                    self.scanned_to = self.scanned_to.max(Some(position));
                    if position <= self.seen_through {
                        continue;
                    }
                    self.seen_through = position;
                    self.new_in_page += 1;
                    return Ok(Some(event));
                }
                None => self.close_page(),
            }
        }
        Ok(None)
    }

    /// The last position read so far (events skipped by the caller included).
    pub(crate) fn scanned_to(&self) -> Option<Position> {
        self.scanned_to
    }

    async fn open_page(&mut self) -> eventstore::Result<&mut ReadStream> {
        let options = ReadAllOptions::default()
            .forwards()
            .position(self.next_page_from)
            .max_count(self.page_size);
        let page = self.client.read_all(&options).await?;
        self.new_in_page = 0;
        Ok(self.page.insert(page))
    }

    /// A page that brought nothing new is the end of `$all`; otherwise the next page starts
    /// at the last event read, which it will return again and we skip.
    fn close_page(&mut self) {
        self.page = None;
        if self.new_in_page == 0 {
            self.at_end = true;
        } else {
            self.next_page_from = StreamPosition::Position(esdb_position(self.seen_through));
        }
    }
}
