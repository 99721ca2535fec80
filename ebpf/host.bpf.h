/* Disk I/O and process lifecycle. Included by ferrotel.bpf.c. */

/* Who submitted the bio that starts at (dev, sector): requests are often issued later from a
 * kernel worker, so the submitter is taken here, in its own context. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ft_disk_key);
	__type(value, __u32);
} disk_submitter SEC(".maps");

SEC("tracepoint/block/block_bio_queue")
int block_bio_queue(struct trace_event_raw_block_bio *ctx)
{
	struct ft_disk_key key = {.dev = ctx->dev, .sector = ctx->sector};
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_map_update_elem(&disk_submitter, &key, &tgid, BPF_ANY);
	return 0;
}

SEC("tracepoint/block/block_rq_issue")
int block_rq_issue(struct trace_event_raw_block_rq *ctx)
{
	struct ft_disk_key key = {.dev = ctx->dev, .sector = ctx->sector};
	/* a requeued request is issued again, often from a kernel worker: keep its first issue */
	if (bpf_map_lookup_elem(&disk_pending, &key))
		return 0;
	struct ft_disk_start start = {
		.start_ns = bpf_ktime_get_ns(),
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.bytes = ctx->bytes,
	};
	__u32 *submitter = bpf_map_lookup_elem(&disk_submitter, &key);
	if (submitter)
		start.tgid = *submitter;
	/* rwbs is e.g. "W", "WS", "FWS", "R", "RA", "D": the first of R/W/D names the operation */
	char rwbs[3] = {ctx->rwbs[0], ctx->rwbs[1], ctx->rwbs[2]};
	for (int i = 0; i < 3; i++) {
		if (rwbs[i] == 'R' || rwbs[i] == 'W' || rwbs[i] == 'D') {
			start.op = rwbs[i];
			break;
		}
	}
	if (!start.op || start.bytes == 0)
		return 0; /* flushes and other zero-length requests */
	if (bpf_map_update_elem(&disk_pending, &key, &start, BPF_ANY))
		count(FT_CNT_PENDING_FULL);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int block_rq_complete(struct trace_event_raw_block_rq_completion *ctx)
{
	struct ft_disk_key key = {.dev = ctx->dev, .sector = ctx->sector};
	struct ft_disk_start *start = bpf_map_lookup_elem(&disk_pending, &key);
	if (!start)
		return 0;
	struct ft_event e = {};
	e.type = FT_EV_DISK;
	e.ts_ns = bpf_ktime_get_ns();
	e.tgid = start->tgid;
	e.duration_ns = e.ts_ns - start->start_ns;
	e.bytes = start->bytes;
	e.op = start->op;
	e.aux = ctx->dev;
	e.error = ctx->error;
	bpf_map_delete_elem(&disk_pending, &key);
	emit(&e, sizeof(e));
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 zero = 0;
	struct ft_exec_event *e = bpf_map_lookup_elem(&scratch_exec, &zero);
	if (!e)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->type = FT_EV_EXEC;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->ts_ns = bpf_ktime_get_ns();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	unsigned int loc = BPF_CORE_READ(ctx, __data_loc_filename);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + (loc & 0xffff));
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	unsigned long len = end > start ? end - start : 0;
	if (len > FT_PATH_LEN)
		len = FT_PATH_LEN;
	e->args_len = 0;
	if (len > 0 && bpf_probe_read_user(e->args, len, (void *)start) == 0)
		e->args_len = len;
	emit(e, sizeof(*e));
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	/* one event per process, when its last thread exits */
	if (bpf_core_field_exists(ctx->group_dead)) {
		if (!BPF_CORE_READ(ctx, group_dead))
			return 0;
	} else if ((__u32)id != (__u32)(id >> 32)) {
		return 0;
	}
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct ft_event e = {};
	fill_event(&e, FT_EV_EXIT, id >> 32, 0);
	e.error = BPF_CORE_READ(task, exit_code);
	emit(&e, sizeof(e));
	return 0;
}

SEC("tracepoint/oom/mark_victim")
int mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	struct ft_event e = {};
	e.type = FT_EV_OOM_KILL;
	e.tgid = ctx->pid;
	e.ts_ns = bpf_ktime_get_ns();
	emit(&e, sizeof(e));
	return 0;
}
