// Linux file calls Swift cannot see: glibc declares them only under _GNU_SOURCE, which the Glibc
// module is not built with. Nothing more than thin wrappers.
#ifndef QUIESCE_CFILESYSTEM_H
#define QUIESCE_CFILESYSTEM_H

/// Starts writing back the dirty pages of [offset, offset + length) without waiting for them.
/// A copy calls this as it goes, so the disk works while the copy goes on and the final fsync has
/// little left to wait for. Returns 0, or -1 with errno set.
int quiesce_start_writeback(int fd, long long offset, long long length);

/// copy_file_range(2): the kernel copies up to `length` bytes between the two files at the given
/// offsets (which it advances), without passing them through user space. Returns the bytes
/// copied, 0 at the end of the input, or -1 with errno set (EXDEV across filesystems).
long quiesce_copy_file_range(int input, long long *input_offset, int output, long long *output_offset, unsigned long length);

/// renameat2(…, RENAME_NOREPLACE): moves a finished copy to its name only if nothing has that name,
/// atomically, so a file that appeared meanwhile is never replaced. Returns 0, or -1 with errno set
/// (EEXIST: the name is taken; EINVAL or ENOSYS: this filesystem cannot do it, e.g. sshfs).
int quiesce_rename_noreplace(int from_directory, const char *from, int to_directory, const char *to);

#endif
