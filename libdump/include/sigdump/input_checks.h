// Inputs that compare without an error but are probably not what the user
// meant: one warning each, naming the file, record and offset where there
// is one (docs/compare.md, "Warnings").
#pragma once

#include <string>
#include <vector>

#include "sigdump/compare_options.h"
#include "sigdump/dump_file.h"
#include "sigdump/error.h"

namespace sigdump {

struct input_warning {
  /* "swapped_arguments": a float sample (isFloat: 1) against a fixed-point
     benchmark (isFloat: 0); "zero_scale": an integer record with s: 0 in an
     isFloat: 0 file (every value reads as 0); "identical_files": sample and
     benchmark are the same file, or hold the same bytes. */
  std::string code;
  error where;  // file, record, name, offset (where known) and the message
  /* One line: "FILE: record 3 (NAME) at offset 57: MESSAGE". */
  std::string text() const { return where.describe(); }
};

/* The warnings for comparing sample against bench, in that order: swapped
   arguments, identical files, then each zero-scale record (of the records
   that take part, sample first). With compare_content false, identical
   files are only those with the same device and inode (no byte is read:
   the daemon's loop thread); otherwise also those of the same size whose
   bytes are equal. */
std::vector<input_warning> check_inputs(const dump_file& sample, const dump_file& bench,
                                        const compare_options& options,
                                        bool compare_content = true);

}  // namespace sigdump
