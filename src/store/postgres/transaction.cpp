#include "store/postgres/transaction.h"

#include <utility>

namespace tug::store::pg {

Result<Rows> Tx::Exec(std::string_view sql, const Params& params) {
  Statement s{sql, &params, false};
  return Flush(&s, /*commit=*/false);
}

void Tx::Queue(std::string_view sql, Params params) {
  queue_.push_back({sql, std::move(params), false});
}

void Tx::QueueControl(std::string_view sql) { queue_.push_back({sql, Params(), true}); }

Status Tx::Commit() {
  if (kind_ != Kind::kWrite) {
    if (queue_.empty()) return OkStatus();
    auto rows = Flush(nullptr, /*commit=*/false);
    if (!rows.ok()) return std::move(rows).take_error();
    committed_ = true;
    return OkStatus();
  }
  if (!begun_ && queue_.empty()) {
    committed_ = true;  // nothing was written
    return OkStatus();
  }
  auto rows = Flush(nullptr, /*commit=*/true);
  if (!rows.ok()) return std::move(rows).take_error();
  // COMMIT of a transaction that had failed answers ROLLBACK without an error.
  if (rows->tag() != "COMMIT") {
    return Internal("the transaction was rolled back instead of committed; retry");
  }
  committed_ = true;
  return OkStatus();
}

void Tx::Abandon() {
  queue_.clear();
  if (kind_ == Kind::kWrite && begun_ && !committed_ && !conn_.broken()) {
    (void)conn_.Simple("ROLLBACK");
  }
  begun_ = false;
}

Result<Rows> Tx::Flush(const Statement* last, bool commit) {
  std::vector<Statement> batch;
  batch.reserve(queue_.size() + 3);
  const bool begin = kind_ == Kind::kWrite && !begun_;
  if (begin) batch.push_back({"BEGIN", nullptr, true});
  const size_t first_queued = batch.size();
  for (const Queued& q : queue_) batch.push_back({q.sql, &q.params, q.control});
  const size_t own = batch.size();  // index of `last` (or of COMMIT)
  if (last != nullptr) batch.push_back(*last);
  if (commit) batch.push_back({"COMMIT", nullptr, true});
  int failed = -1;
  auto rows = conn_.Run(batch, &failed);
  queue_.clear();
  retryable_ = false;
  failed_in_queue_ = false;
  if (rows.ok()) {
    begun_ = begun_ || begin;
    return rows;
  }
  // A transaction is open (and must be rolled back) unless BEGIN itself failed.
  if (begin && failed != 0) begun_ = true;
  failed_in_queue_ = failed >= static_cast<int>(first_queued) && failed < static_cast<int>(own);
  const std::string& state = conn_.last_sqlstate();
  if (state == "40001" || state == "40P01") {
    retryable_ = true;  // the server rolled the statement (or transaction) back
  } else if (conn_.broken()) {
    // Lost before COMMIT went out: the server rolls the open transaction back, so running the
    // body again on a new connection is safe. With COMMIT on its way (or outside a transaction)
    // the outcome is unknown, and only a read may be repeated.
    retryable_ = (kind_ == Kind::kWrite && !commit) || kind_ == Kind::kRead;
  }
  return std::move(rows).take_error();
}

}  // namespace tug::store::pg
