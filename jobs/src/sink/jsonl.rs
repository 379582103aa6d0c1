//! Leads as JSON lines, one per processed listing, for people and scripts.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use aiq_schemas::{Lead, PropertyId};

use super::SinkBatch;
use crate::{Error, Result};

pub struct JsonLinesWriter {
    path: PathBuf,
    out: BufWriter<File>,
    /// Every merge seen, so lines written before a merge can be corrected when the run finishes.
    merged_into: HashMap<PropertyId, PropertyId>,
}

impl JsonLinesWriter {
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io("create", path, e))?;
        Ok(JsonLinesWriter {
            path: path.to_owned(),
            out: BufWriter::new(file),
            merged_into: HashMap::new(),
        })
    }

    pub fn write(&mut self, batch: &SinkBatch<'_>) -> Result<()> {
        for relabel in batch.relabels {
            self.merged_into.insert(relabel.from, relabel.to);
        }
        for lead in batch.leads {
            self.write_lead(lead)?;
        }
        Ok(())
    }

    fn write_lead(&mut self, lead: &Lead) -> Result<()> {
        serde_json::to_writer(&mut self.out, lead)
            .map_err(|e| Error::Internal(format!("serialise lead: {e}")))?;
        self.out
            .write_all(b"\n")
            .map_err(|e| Error::io("write", &self.path, e))
    }

    /// Flushes, and when merges happened, rewrites the file so every line carries its final property id.
    pub fn finish(mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io("write", &self.path, e))?;
        drop(self.out);
        if self.merged_into.is_empty() {
            return Ok(());
        }
        let final_id = |mut id: PropertyId| {
            // Follow chains of merges (a -> b -> c); bounded in case of a cycle, which would be a bug.
            for _ in 0..64 {
                match self.merged_into.get(&id) {
                    Some(next) if *next != id => id = *next,
                    _ => break,
                }
            }
            id
        };
        let rewritten = self.path.with_extension("jsonl.tmp");
        {
            let input = BufReader::new(
                File::open(&self.path).map_err(|e| Error::io("open", &self.path, e))?,
            );
            let mut output = BufWriter::new(
                File::create(&rewritten).map_err(|e| Error::io("create", &rewritten, e))?,
            );
            for line in input.lines() {
                let line = line.map_err(|e| Error::io("read", &self.path, e))?;
                let mut lead: Lead = serde_json::from_str(&line)
                    .map_err(|e| Error::Internal(format!("re-read lead: {e}")))?;
                lead.property_id = final_id(lead.property_id);
                serde_json::to_writer(&mut output, &lead)
                    .map_err(|e| Error::Internal(format!("serialise lead: {e}")))?;
                output
                    .write_all(b"\n")
                    .map_err(|e| Error::io("write", &rewritten, e))?;
            }
            output
                .flush()
                .map_err(|e| Error::io("write", &rewritten, e))?;
        }
        std::fs::rename(&rewritten, &self.path).map_err(|e| Error::io("rename", &rewritten, e))
    }
}

/// Dead letters as JSON lines, for runs without a store.
pub struct DeadLetterWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl DeadLetterWriter {
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io("create", path, e))?;
        Ok(DeadLetterWriter {
            path: path.to_owned(),
            out: BufWriter::new(file),
        })
    }

    pub fn write(&mut self, batch: &SinkBatch<'_>) -> Result<()> {
        for (dead, _) in batch.dead_letters {
            serde_json::to_writer(&mut self.out, dead)
                .map_err(|e| Error::Internal(format!("serialise dead letter: {e}")))?;
            self.out
                .write_all(b"\n")
                .map_err(|e| Error::io("write", &self.path, e))?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io("write", &self.path, e))
    }
}
