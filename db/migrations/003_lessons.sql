-- Lesson progress (web/lessons): one row per passed step.
CREATE TABLE lesson_progress (
	lesson  TEXT NOT NULL,
	step    TEXT NOT NULL,
	done_at INTEGER NOT NULL, -- unix milliseconds
	PRIMARY KEY (lesson, step)
);
