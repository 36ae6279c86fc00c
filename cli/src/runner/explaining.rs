//! Explaining the run as it goes: why jobs wait (told with `-v`, shown on
//! the bar), new jobs held back while too much output is held, and the
//! bar's message of running and paused jobs.

use super::Front;

impl Front {
    /// With `-v`, says why jobs wait when the reason changes; the bar shows
    /// it too.
    pub(super) fn explain_waiting(&mut self, decision: &dummymp::Decision) {
        use dummymp::SlotLimit;
        let waits = decision.waiting > decision.slots
            && matches!(
                decision.limit,
                SlotLimit::Cpus
                    | SlotLimit::Memory
                    | SlotLimit::FirstMeasurement
                    | SlotLimit::ForcedOne
            );
        // Told again when what holds the jobs back changes, not at every
        // measurement: the kind of limit and the processes counted.
        let key = waits.then(|| {
            let counted: Vec<i32> = decision
                .measurement
                .as_ref()
                .map(|m| m.counted.iter().map(|p| p.pid).collect())
                .unwrap_or_default();
            format!("{:?} {counted:?}", decision.limit)
        });
        if key == self.told_wait {
            return;
        }
        self.told_wait = key;
        self.waiting_reason = waits.then(|| match decision.limit {
            SlotLimit::Memory => "waiting for memory".to_string(),
            SlotLimit::FirstMeasurement => "measuring other users' load".to_string(),
            _ => "waiting for CPUs other users need".to_string(),
        });
        self.show_running();
        if self.settings.verbose && waits {
            self.printer.note(&format!("dummymp: {decision}"));
        }
    }

    /// Says once that output could not go to a temporary file, and when new
    /// jobs (`queued`) first wait for held output to be printed (with
    /// `-v`, every time).
    pub(super) fn explain_held_output(&mut self, queued: bool) {
        let (notes, changed) = self.held.news(self.running, queued, self.settings.verbose);
        for note in notes {
            self.printer.note(&note);
        }
        if changed {
            self.show_running();
        }
    }

    /// The bar's message: running and paused jobs, and why jobs wait.
    pub(super) fn show_running(&self) {
        let mut message = format!("{} running, ", self.running);
        if self.paused > 0 {
            message.push_str(&format!("{} paused, ", self.paused));
        }
        if self.held.is_holding_back() {
            message.push_str("waiting for held output to be printed, ");
        }
        if let Some(reason) = &self.waiting_reason {
            message.push_str(reason);
            message.push_str(", ");
        }
        self.progress.set_message(message);
    }
}
