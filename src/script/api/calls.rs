//! The work behind the script functions: requests on the shared runtime, raced against the
//! interrupt. (Cancels go through the cancel path, `crate::script::cancels`.)

use super::*;

impl HostState {
    pub(crate) fn client(&self) -> Outcome<Client> {
        Ok(self.backend()?.client.clone())
    }

    /// Runs one exchange call on the runtime, stopping early if the script is interrupted.
    pub(crate) fn request<T>(
        &self,
        function: &str,
        progress: Option<&str>,
        work: impl Future<Output = Result<T, ClobError>>,
    ) -> Outcome<T> {
        let backend = self.backend()?;
        if self.interrupt.is_triggered() {
            return Err(self.terminated());
        }
        let token = self.interrupt.cancelled();
        let show = self.progress && progress.is_some();
        let label = progress.unwrap_or(function);
        let outcome = backend.handle.block_on(async {
            tokio::select! {
                biased;
                () = token.cancelled() => None,
                result = output::with_progress(label, &backend.client, show, work) => Some(result),
            }
        });
        match outcome {
            None => Err(self.terminated()),
            Some(Ok(value)) => Ok(value),
            Some(Err(err)) => {
                let message = format!("{function} failed: {err}");
                self.record_api_failure(&message, err.exit());
                Err(failure(message))
            }
        }
    }
}
